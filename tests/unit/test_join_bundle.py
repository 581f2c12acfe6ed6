import pytest

from tinykube.join_bundle import BundleError, open_into, seal

TOKEN = "0123456789abcdef0123"


def _pki(root):
    (root / "etcd").mkdir(parents=True)
    (root / "ca.key").write_text("ca key")
    (root / "ca.key").chmod(0o600)
    (root / "ca.crt").write_text("ca cert")
    (root / "etcd" / "ca.crt").write_text("etcd ca")
    return root


def test_round_trip_keeps_files_subdirectories_and_modes(tmp_path):
    sealed = seal(_pki(tmp_path / "src"), TOKEN)
    written = open_into(sealed, TOKEN, tmp_path / "dst")
    assert sorted(written) == ["ca.crt", "ca.key", "etcd/ca.crt"]
    assert (tmp_path / "dst" / "etcd" / "ca.crt").read_text() == "etcd ca"
    assert (tmp_path / "dst" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_the_bundle_does_not_show_its_contents(tmp_path):
    sealed = seal(_pki(tmp_path / "src"), TOKEN)
    assert b"ca key" not in sealed and b"ca.key" not in sealed


def test_wrong_token_or_damage_is_refused_and_writes_nothing(tmp_path):
    sealed = seal(_pki(tmp_path / "src"), TOKEN)
    with pytest.raises(BundleError, match="wrong join token"):
        open_into(sealed, TOKEN[::-1], tmp_path / "dst")
    damaged = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(BundleError):
        open_into(damaged, TOKEN, tmp_path / "dst")
    assert not (tmp_path / "dst").exists() or not any((tmp_path / "dst").iterdir())


def test_existing_files_are_kept(tmp_path):
    sealed = seal(_pki(tmp_path / "src"), TOKEN)
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "ca.crt").write_text("mine")
    written = open_into(sealed, TOKEN, tmp_path / "dst")
    assert "ca.crt" not in written
    assert (tmp_path / "dst" / "ca.crt").read_text() == "mine"


def test_short_token_is_refused(tmp_path):
    with pytest.raises(BundleError, match="too short"):
        seal(_pki(tmp_path / "src"), "short")
