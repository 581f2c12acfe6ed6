"""batch/v1: Job and CronJob.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    INT32,
    INT64,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.batch.v1.")

Job = declare(
    "Job",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("JobSpec"), 2, description="The desired state."),
    Field("status", ref("JobStatus"), 3, description="The most recently observed state, written by the system."),
    description="Runs pods until a number of them complete successfully.",
)

JobSpec = declare(
    "JobSpec",
    Field("parallelism", INT32, 1, description="Pods that may run at the same time."),
    Field("completions", INT32, 2, description="Successful pods needed for the Job to complete."),
    Field("activeDeadlineSeconds", INT64, 3),
    Field("podFailurePolicy", ref("PodFailurePolicy"), 11),
    Field("successPolicy", ref("SuccessPolicy"), 16),
    Field("backoffLimit", INT32, 7, description="Retries before the Job is marked failed."),
    Field("backoffLimitPerIndex", INT32, 12),
    Field("maxFailedIndexes", INT32, 13),
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 4),
    Field("manualSelector", BOOL, 5),
    Field("template", Ref("io.k8s.api.core.v1.PodTemplateSpec"), 6, required=True),
    Field("ttlSecondsAfterFinished", INT32, 8),
    Field("completionMode", STRING, 9, default="NonIndexed", enum=("Indexed", "NonIndexed")),
    Field("suspend", BOOL, 10, default=False),
    Field("podReplacementPolicy", STRING, 14, enum=("Failed", "TerminatingOrFailed")),
    Field("managedBy", STRING, 15),
    description="The desired behaviour of a Job.",
)

PodFailurePolicy = declare(
    "PodFailurePolicy",
    Field("rules", ListOf(ref("PodFailurePolicyRule")), 1, required=True, list_type="atomic"),
)

PodFailurePolicyRule = declare(
    "PodFailurePolicyRule",
    Field("action", STRING, 1, required=True, enum=("Count", "FailIndex", "FailJob", "Ignore")),
    Field("onExitCodes", ref("PodFailurePolicyOnExitCodesRequirement"), 2),
    Field("onPodConditions", ListOf(ref("PodFailurePolicyOnPodConditionsPattern")), 3, list_type="atomic"),
)

PodFailurePolicyOnExitCodesRequirement = declare(
    "PodFailurePolicyOnExitCodesRequirement",
    Field("containerName", STRING, 1),
    Field("operator", STRING, 2, required=True, enum=("In", "NotIn")),
    Field("values", ListOf(INT32), 3, required=True, list_type="set"),
)

PodFailurePolicyOnPodConditionsPattern = declare(
    "PodFailurePolicyOnPodConditionsPattern",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
)

SuccessPolicy = declare(
    "SuccessPolicy",
    Field("rules", ListOf(ref("SuccessPolicyRule")), 1, required=True, list_type="atomic"),
)

SuccessPolicyRule = declare(
    "SuccessPolicyRule",
    Field("succeededIndexes", STRING, 1),
    Field("succeededCount", INT32, 2),
)

JobStatus = declare(
    "JobStatus",
    Field("conditions", ListOf(ref("JobCondition")), 1, list_type="atomic", merge_key="type", strategy="merge"),
    Field("startTime", TIME, 2),
    Field("completionTime", TIME, 3),
    Field("active", INT32, 4, omit_zero=True),
    Field("succeeded", INT32, 5, omit_zero=True),
    Field("failed", INT32, 6, omit_zero=True),
    Field("terminating", INT32, 11),
    Field("completedIndexes", STRING, 7, omit_zero=True),
    Field("failedIndexes", STRING, 10),
    Field("uncountedTerminatedPods", ref("UncountedTerminatedPods"), 8),
    Field("ready", INT32, 9),
)

JobCondition = declare(
    "JobCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastProbeTime", TIME, 3),
    Field("lastTransitionTime", TIME, 4),
    Field("reason", STRING, 5, omit_zero=True),
    Field("message", STRING, 6, omit_zero=True),
)

UncountedTerminatedPods = declare(
    "UncountedTerminatedPods",
    Field("succeeded", ListOf(STRING), 1, list_type="set"),
    Field("failed", ListOf(STRING), 2, list_type="set"),
)

CronJob = declare(
    "CronJob",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("CronJobSpec"), 2, description="The desired state."),
    Field("status", ref("CronJobStatus"), 3, description="The most recently observed state, written by the system."),
    description="Creates Jobs on a repeating schedule.",
)

CronJobSpec = declare(
    "CronJobSpec",
    Field("schedule", STRING, 1, required=True, description="The cron schedule, e.g. '*/5 * * * *'."),
    Field("timeZone", STRING, 8),
    Field("startingDeadlineSeconds", INT64, 2),
    Field("concurrencyPolicy", STRING, 3, default="Allow", enum=("Allow", "Forbid", "Replace"), omit_zero=True),
    Field("suspend", BOOL, 4, default=False),
    Field(
        "jobTemplate", ref("JobTemplateSpec"), 5, required=True, description="The Job created at each scheduled time."
    ),
    Field("successfulJobsHistoryLimit", INT32, 6, default=3),
    Field("failedJobsHistoryLimit", INT32, 7, default=1),
    description="When and how a CronJob creates Jobs.",
)

JobTemplateSpec = declare(
    "JobTemplateSpec",
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("JobSpec"), 2, description="The desired state."),
)

CronJobStatus = declare(
    "CronJobStatus",
    Field("active", ListOf(Ref("io.k8s.api.core.v1.ObjectReference")), 1, list_type="atomic"),
    Field("lastScheduleTime", TIME, 4),
    Field("lastSuccessfulTime", TIME, 5),
)

TYPES = (
    Job,
    JobSpec,
    PodFailurePolicy,
    PodFailurePolicyRule,
    PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern,
    SuccessPolicy,
    SuccessPolicyRule,
    JobStatus,
    JobCondition,
    UncountedTerminatedPods,
    CronJob,
    CronJobSpec,
    JobTemplateSpec,
    CronJobStatus,
)
