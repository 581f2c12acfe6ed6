"""Profiles from a KubeSchedulerConfiguration subset."""

import pytest

from scheduler.plugins.node_resources_fit import MOST_ALLOCATED, NodeResourcesFit
from scheduler.profile import DEFAULT_SCHEDULER_NAME, ProfileError, profiles_from_configuration
from tests.unit.scheduler_fixtures import framework


def test_no_configuration_means_the_default_profile():
    (profile,) = profiles_from_configuration(None)
    assert profile.scheduler_name == DEFAULT_SCHEDULER_NAME
    assert profile.percentage_of_nodes_to_score == 0
    assert "DefaultPreemption" in profile.plugins


def test_profiles_with_weights_disables_args_and_percentage():
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "percentageOfNodesToScore": 30,
        "profiles": [
            {"schedulerName": "default-scheduler"},
            {
                "schedulerName": "packer",
                "percentageOfNodesToScore": 100,
                "plugins": {
                    "multiPoint": {"disabled": [{"name": "ImageLocality"}]},
                    "score": {
                        "enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                        "disabled": [{"name": "NodeResourcesBalancedAllocation"}],
                    },
                    "postFilter": {"disabled": [{"name": "*"}]},
                },
                "pluginConfig": [
                    {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}},
                ],
            },
        ],
    }
    default, packer = profiles_from_configuration(config)
    assert default.percentage_of_nodes_to_score == 30
    assert packer.percentage_of_nodes_to_score == 100
    fw = framework(packer)
    assert fw.scheduler_name == "packer"
    weights = {p.name: w for p, w in fw.scorers}
    assert weights["NodeResourcesFit"] == 5
    assert "ImageLocality" not in weights and "NodeResourcesBalancedAllocation" not in weights
    assert fw.plugin("ImageLocality") is None
    # Balanced allocation is disabled for scoring only; the plugin itself stays registered.
    assert fw.plugin("NodeResourcesBalancedAllocation") is not None
    assert fw.post_filter == []
    fit = fw.plugin("NodeResourcesFit")
    assert isinstance(fit, NodeResourcesFit) and fit.strategy == MOST_ALLOCATED


def test_configuration_errors_name_the_problem():
    with pytest.raises(ProfileError, match="unknown plugin 'Nope'"):
        profiles_from_configuration({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]})
    with pytest.raises(ProfileError, match="duplicate profile schedulerName"):
        profiles_from_configuration({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]})
    with pytest.raises(ProfileError, match="unknown extension point 'filtr'"):
        profiles_from_configuration({"profiles": [{"plugins": {"filtr": {}}}]})
    # Plugins kube-scheduler has but this scheduler lacks may be named without breaking the profile.
    (profile,) = profiles_from_configuration(
        {"profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "VolumeZone"}]}}}]}
    )
    assert "VolumeZone" not in profile.plugins
