"""keyctl against a REAL Secret Service (issue 5): gnome-keyring-daemon on a private
D-Bus session bus that the fixture starts (and stops), with HOME and the XDG folders
in a temporary folder, so the tests need no desktop and never touch a real keyring.
keyctl runs as real processes with PYTHON_KEYRING_BACKEND=SecretService; the entries
are read back with `secret-tool` (libsecret-tools), independently of keyctl.

Where no Secret Service can be started these tests skip with the reason, unless
KEYCTL_REQUIRE_SECRET_SERVICE=1 (.ci/run sets it): then they fail."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.secretservice

BACKEND = "keyring.backends.SecretService.Keyring"
PASSWORD = "keyctl-tests"
READY_WITHIN_S = 20.0

# A session bus of our own, without service activation: nothing but the daemon we
# start can own org.freedesktop.secrets (D-Bus would otherwise start a second,
# locked gnome-keyring on the first request).
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def unavailable(reason: str) -> None:
    if os.environ.get("KEYCTL_REQUIRE_SECRET_SERVICE") == "1":
        pytest.fail(f"KEYCTL_REQUIRE_SECRET_SERVICE=1 but no Secret Service could be started: {reason}", pytrace=False)
    pytest.skip(f"no Secret Service: {reason}")


class SecretService:
    """dbus-daemon + gnome-keyring-daemon (secrets component, login keyring unlocked
    with a password on stdin), both children of the test process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen] = []
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        for folder, var in (("home", "HOME"), ("run", "XDG_RUNTIME_DIR"), ("data", "XDG_DATA_HOME"),
                            ("config", "XDG_CONFIG_HOME"), ("cache", "XDG_CACHE_HOME")):
            (root / folder).mkdir(mode=0o700)
            self.env[var] = str(root / folder)
        self.log = root / "daemons.log"
        self.address = ""
        self.keyring_daemon: subprocess.Popen | None = None

    def start(self) -> None:
        for tool, package in (("dbus-daemon", "dbus"), ("gnome-keyring-daemon", "gnome-keyring"),
                              ("secret-tool", "libsecret-tools")):
            if shutil.which(tool) is None:
                unavailable(f"{tool} is not installed (apt-get install {package})")
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.root / "run" / "bus"))
        log = self.log.open("a")
        bus = self._spawn(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                          stdout=subprocess.PIPE, stderr=log)
        self.address = bus.stdout.readline().strip() if bus.stdout else ""
        if not self.address:
            unavailable(f"dbus-daemon did not start: {self.log_tail()}")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        daemon = self._spawn(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                             stdin=subprocess.PIPE, stdout=log, stderr=log)
        assert daemon.stdin is not None
        daemon.stdin.write(PASSWORD.encode())
        daemon.stdin.close()  # end of the password
        self.keyring_daemon = daemon
        self._wait_ready()

    def _spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(argv, env=self.env, cwd=self.root, **kwargs)
        self.processes.append(process)
        return process

    def _wait_ready(self) -> None:
        """Ready when an item can be stored in the default collection."""
        deadline = time.monotonic() + READY_WITHIN_S
        probe = ["service", "keyctl-tests-probe", "username", "probe"]
        while True:
            assert self.keyring_daemon is not None
            if self.keyring_daemon.poll() is not None:
                unavailable(f"gnome-keyring-daemon exited with {self.keyring_daemon.returncode}: {self.log_tail()}")
            try:
                p = self.secret_tool("store", "--label=keyctl tests probe", *probe, input="probe")
            except subprocess.TimeoutExpired:
                p = None
            if p is not None and p.returncode == 0:
                self.secret_tool("clear", *probe)
                return
            if time.monotonic() > deadline:
                detail = p.stderr.strip() if p is not None else "secret-tool timed out"
                unavailable(f"gnome-keyring did not become ready ({detail}): {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-5:]) or "(no output)"
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # in case a test left it stopped
                process.terminate()
        for process in self.processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def secret_tool(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["secret-tool", *args], input=input, capture_output=True, text=True,
                              env=self.env, timeout=15)

    def lookup(self, key_id: str) -> str | None:
        """The entry keyctl keeps for ``key_id``, read with secret-tool (None: no entry)."""
        p = self.secret_tool("lookup", "service", "keyctl", "username", key_id)
        return p.stdout if p.returncode == 0 and p.stdout else None

    @property
    def keyctl_env(self) -> dict[str, str]:
        return {"DBUS_SESSION_BUS_ADDRESS": self.address, "PYTHON_KEYRING_BACKEND": BACKEND}


def started(root: Path) -> SecretService:
    service = SecretService(root)
    try:
        service.start()
    except BaseException:  # skip, fail or error: never leave a daemon behind
        service.stop()
        raise
    return service


@pytest.fixture(scope="module")
def secret_service(tmp_path_factory):
    service = started(tmp_path_factory.mktemp("secret-service"))
    yield service
    service.stop()


@pytest.fixture
def own_secret_service(tmp_path_factory):
    """A Secret Service for one test that will lock or freeze it."""
    service = started(tmp_path_factory.mktemp("secret-service-own"))
    yield service
    service.stop()


@pytest.fixture
def keyctl(sh, secret_service):
    def _keyctl(*args: str, input: str | None = None):
        return sh(*args, input=input, env=secret_service.keyctl_env)

    return _keyctl


def key_id(keyctl, ref: str) -> str:
    r = keyctl("show", ref, "--json")
    assert r.code == 0, r
    return r.json["id"]


# --- the whole life of a key in the keyring ---------------------------------------------
def test_create_secret_check_rotate_delete(keyctl, secret_service):
    r = keyctl("create", "--name", "ci-bot", "--scope", "predict", "--keyring", "--json")
    assert r.code == 0, r
    assert r.json["secret"] is None
    assert r.json["stored_in"] == "SecretService Keyring"
    assert r.json["in_keyring"] is True
    kid = r.json["id"]

    # The entry is in the Secret Service, under service keyctl and the key's id.
    first = secret_service.lookup(kid)
    assert first is not None and first.startswith("kc_")

    # keyctl secret prints it alone, and it is the key's secret.
    r = keyctl("secret", "ci-bot")
    assert r.code == 0, r
    assert r.stdout == first + "\n"
    secret = r.stdout.strip()
    assert keyctl("check", secret, "predict.call").code == 0
    assert keyctl("check", secret, "inputs.get").code == 4

    # rotate --keyring replaces the entry; the old secret stops working.
    r = keyctl("rotate", "ci-bot", "--keyring")
    assert r.code == 0, r
    assert "kc_" not in r.stdout and "stored in the keyring (SecretService Keyring)" in r.stdout
    second = secret_service.lookup(kid)
    assert second is not None and second != first
    assert keyctl("secret", kid).stdout == second + "\n"
    assert keyctl("check", second, "predict.call").code == 0
    assert keyctl("check", first, "predict.call").code == 4

    # delete removes the entry.
    r = keyctl("delete", "ci-bot", "--yes")
    assert r.code == 0, r
    assert secret_service.lookup(kid) is None
    assert keyctl("secret", kid).code == 1


def test_show_secret_prints_what_the_keyring_holds(keyctl, secret_service):
    r = keyctl("create", "-n", "shown", "-s", "search", "--keyring", "--show-secret", "--json")
    assert r.code == 0, r
    assert r.json["secret"] == secret_service.lookup(r.json["id"])


def test_rotate_keeps_a_keyring_key_there_and_no_keyring_takes_it_out(keyctl, secret_service):
    keyctl("create", "-n", "stale", "-s", "predict", "--keyring")
    kid = key_id(keyctl, "stale")
    first = secret_service.lookup(kid)
    r = keyctl("rotate", "stale", "--json")
    assert r.code == 0 and r.json["secret"] is None and r.json["in_keyring"] is True, r
    second = secret_service.lookup(kid)
    assert second not in (None, first)
    assert keyctl("secret", "stale").stdout.strip() == second
    r = keyctl("rotate", "stale", "--no-keyring", "--json")
    assert r.code == 0, r
    assert r.json["secret"].startswith("kc_") and r.json["in_keyring"] is False
    assert "is now stale; removed it" in r.stderr
    assert secret_service.lookup(kid) is None
    r = keyctl("secret", "stale")
    assert r.code == 1 and "nothing is stored in the keyring for stale" in r.stderr


def test_each_key_has_its_own_entry(keyctl, secret_service):
    keyctl("create", "-n", "one", "-s", "predict", "--keyring")
    keyctl("create", "-n", "two", "-s", "predict", "--keyring")
    one, two = secret_service.lookup(key_id(keyctl, "one")), secret_service.lookup(key_id(keyctl, "two"))
    assert one and two and one != two
    assert keyctl("delete", "one", "--yes").code == 0
    assert secret_service.lookup(key_id(keyctl, "two")) == two
    listed = {k["name"]: k["in_keyring"] for k in keyctl("list", "--json").json}
    assert listed == {"two": True}


def test_an_entry_removed_with_secret_tool_is_reported(keyctl, secret_service):
    keyctl("create", "-n", "gone", "-s", "predict", "--keyring")
    kid = key_id(keyctl, "gone")
    assert secret_service.secret_tool("clear", "service", "keyctl", "username", kid).returncode == 0
    r = keyctl("secret", "gone")
    assert r.code == 1 and r.stdout == ""
    assert "removed outside keyctl" in r.stderr


# --- a Secret Service that is locked, or does not answer ------------------------------------
def lock_default_collection(service: SecretService) -> None:
    # secret-tool's own `lock` waits on a prompt here; the Secret Service API does not.
    code = ("import secretstorage; c = secretstorage.get_default_collection(secretstorage.dbus_init()); "
            "c.lock(); assert c.is_locked()")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **service.keyctl_env},
                   check=True, timeout=30)


def test_a_locked_keyring_is_reported_not_waited_on(sh, own_secret_service):
    env = {**own_secret_service.keyctl_env, "KEYCTL_KEYRING_TIMEOUT": "5"}
    assert sh("create", "-n", "ci", "-s", "predict", "--keyring", env=env).code == 0
    lock_default_collection(own_secret_service)
    r = sh("secret", "ci", env=env)
    assert r.code == 1 and r.stdout == ""
    # gnome-keyring cannot show an unlock prompt without a desktop: it refuses at once,
    # or (another version) leaves the request pending until keyctl's timeout.
    assert "the keyring is locked" in r.stderr or "did not answer within 5 s" in r.stderr, r
    # --keyring finds that out before it writes anything.
    r = sh("create", "-n", "ci2", "-s", "predict", "--keyring", env=env)
    assert r.code == 1 and r.stdout == ""
    assert "the keyring is locked" in r.stderr or "did not answer within 5 s" in r.stderr, r
    assert [k["name"] for k in sh("list", "--json").json] == ["ci"]


def test_an_unresponsive_secret_service_times_out(sh, own_secret_service):
    env = {**own_secret_service.keyctl_env, "KEYCTL_KEYRING_TIMEOUT": "2"}
    assert sh("create", "-n", "ci", "-s", "predict", "--keyring", env=env).code == 0
    daemon = own_secret_service.keyring_daemon
    assert daemon is not None
    daemon.send_signal(signal.SIGSTOP)  # still owns its D-Bus name, answers nothing
    try:
        r = sh("secret", "ci", env=env)
        r_create = sh("create", "-n", "ci2", "-s", "predict", "--keyring", env=env)
    finally:
        daemon.send_signal(signal.SIGCONT)
    assert r.code == 1 and r.stdout == ""
    assert "the keyring did not answer within 2 s" in r.stderr
    assert "D-Bus" in r.stderr
    # create: the backend check already needs an answer, so nothing is created.
    assert r_create.code == 1
    assert "did not answer" in r_create.stderr
    assert [k["name"] for k in sh("list", "--json").json] == ["ci"]
