"""The composer in a real terminal: tmux drives it locally and over SSH to a private sshd.

Type a melody, harmonize it with a tiny model, accept a variant, save, and check the MIDI file.
Skipped cleanly when tmux (or sshd/ssh) is not installed.
"""

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.music.midi import load_midi

REPO = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
SSH, KEYGEN = shutil.which("ssh"), shutil.which("ssh-keygen")

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Terminal:
    """One tmux server on a private socket, one window running `command`."""

    count = 0

    def __init__(self, folder: Path, command: str, size=(100, 30)) -> None:
        # A fresh socket each time: a server being killed may still hold the previous one.
        Terminal.count += 1
        self.socket = str(folder / f"tmux-{Terminal.count}.sock")
        self.run(
            "new-session", "-d", "-s", "cantor", "-x", str(size[0]), "-y", str(size[1]), command
        )

    def run(self, *args: str) -> str:
        out = subprocess.run(
            [TMUX, "-S", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return out.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "cantor", key)
            time.sleep(0.08)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "cantor")

    def wait_for(self, text: str, seconds: float = 60) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        self.run("kill-server")


def compose_a_hymn(term: Terminal, target: Path) -> None:
    """Type C D E C | E F G (half), harmonize, accept, save, quit; then check the file."""
    term.wait_for(target.name)
    term.keys("c", "d", "e", "c", "e", "f", "8", "g")
    term.wait_for("| 3:1 |")  # the cursor has moved past the half note
    term.keys("r")
    term.wait_for("variants")
    term.keys("Enter")
    term.wait_for("Accepted")
    term.keys("C-s")
    term.wait_for("Saved")
    term.keys("q")
    end = time.monotonic() + 20
    while target.is_file() is False and time.monotonic() < end:
        time.sleep(0.1)
    score = load_midi(target)
    assert [p for _, _, p in score.notes(0)] == [72, 74, 76, 72, 76, 77, 79]
    assert score.notes(0)[-1][1] == 8
    for voice in (1, 2, 3):  # harmonized: the model wrote notes in the other voices
        assert score.notes(voice)


def app_command(target: Path, checkpoint: Path, state: Path) -> str:
    python = shlex.quote(sys.executable)
    return (
        f"cd {shlex.quote(str(REPO))} && env XDG_STATE_HOME={shlex.quote(str(state))}"
        f" CANTOR_SOUNDFONT= {python} -m cli {shlex.quote(str(target))}"
        f" --checkpoint {shlex.quote(str(checkpoint))}"
    )


def test_compose_in_tmux(tmp_path, tiny_checkpoint):
    target = tmp_path / "hymn.mid"
    command = app_command(target, tiny_checkpoint, tmp_path / "state")
    term = Terminal(tmp_path, f"bash -c {shlex.quote(command + '; sleep 30')}")
    try:
        compose_a_hymn(term, target)
    finally:
        term.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    """An sshd on 127.0.0.1 that accepts one throw-away key, for the current user."""
    if not (SSHD and SSH and KEYGEN):
        pytest.skip("openssh-server / ssh client is not installed")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        Path("/run/sshd").mkdir(mode=0o755)  # sshd's privilege-separation folder
    keys = tmp_path / "ssh"
    keys.mkdir(mode=0o700)
    for name in ("host", "user"):
        subprocess.run(
            [KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    (keys / "authorized_keys").write_text((keys / "user.pub").read_text())
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {keys / 'host'}",
                f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                f"PidFile {keys / 'sshd.pid'}",
                "",
            ]
        )
    )
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if server.poll() is not None:
                pytest.skip(f"sshd did not start: {server.stderr.read().decode()[-200:]}")
            time.sleep(0.1)
    yield port, keys / "user"
    server.terminate()
    server.wait(timeout=10)


def test_compose_over_ssh(tmp_path, tiny_checkpoint, sshd):
    port, key = sshd
    target = tmp_path / "hymn.mid"
    remote = app_command(target, tiny_checkpoint, tmp_path / "state")
    user = (
        os.environ.get("USER")
        or subprocess.run(["id", "-un"], capture_output=True, text=True, check=False).stdout.strip()
    )
    ssh = (
        f"{SSH} -tt -p {port} -i {shlex.quote(str(key))} -o BatchMode=yes"
        " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        f" {user}@127.0.0.1 {shlex.quote(remote)}"
    )
    term = Terminal(tmp_path, f"bash -c {shlex.quote(ssh + '; sleep 30')}")
    try:
        compose_a_hymn(term, target)
    finally:
        term.close()


def _app_pid(term: Terminal) -> int:
    shell = int(term.run("display-message", "-p", "-t", "cantor", "#{pane_pid}").strip())
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(shell)], capture_output=True, text=True, check=False
    )
    return int(out.stdout.split()[0])


def test_plain_terminal_and_kill_9_loses_no_edit(tmp_path):
    """NO_COLOR, TERM=xterm, the C locale: the grid is ASCII; kill -9 and recover every note."""
    target = tmp_path / "tune.mid"
    state = tmp_path / "state"
    python = shlex.quote(sys.executable)
    command = (
        f"cd {shlex.quote(str(REPO))} && env LANG=C LC_ALL=C TERM=xterm NO_COLOR=1"
        f" XDG_STATE_HOME={shlex.quote(str(state))} {python} -m cli {shlex.quote(str(target))}"
    )
    term = Terminal(tmp_path, f"bash -c {shlex.quote(command + '; sleep 30')}", size=(80, 24))
    try:
        term.wait_for(target.name)
        term.keys("g", "a", "b", "c")
        shown = term.wait_for("B4==C5==")  # the soprano lane spells the four notes
        grid = shown.splitlines()[:18]
        assert all(line.isascii() for line in grid), "\n".join(grid)
        assert "S===" in shown and "|" in shown  # onsets, held notes and bar lines in ASCII
        os.kill(_app_pid(term), 9)
        time.sleep(0.5)
    finally:
        term.close()
    term = Terminal(tmp_path, f"bash -c {shlex.quote(command + '; sleep 30')}", size=(80, 24))
    try:
        term.wait_for("Recover them?")
        term.keys("y")
        term.wait_for("Recovered")
        term.keys("C-s")
        term.wait_for("Saved")
        term.keys("q")
        end = time.monotonic() + 20
        while not target.is_file() and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        term.close()
    assert [p for _, _, p in load_midi(target).notes(0)] == [67, 69, 71, 72]


def test_playback_with_a_null_sound_device(tmp_path):
    """Space loops the selection (status PLAYING, the playhead moves), space again stops.

    ALSA's null device takes samples as fast as they come, so only a loop keeps playing."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")  # ALSA plays into nothing
    python = shlex.quote(sys.executable)
    command = (
        f"cd {shlex.quote(str(REPO))} && env HOME={shlex.quote(str(home))}"
        f" XDG_STATE_HOME={shlex.quote(str(tmp_path / 'state'))} {python} -m cli"
    )
    term = Terminal(tmp_path, f"bash -c {shlex.quote(command + '; sleep 30')}")
    try:
        term.wait_for("bpm")
        term.keys("V", "Space")
        term.wait_for("PLAYING", 30)
        first = term.run("capture-pane", "-p", "-e", "-t", "cantor")
        end = time.monotonic() + 15  # the playhead moves (within seconds even on a busy machine)
        while term.run("capture-pane", "-p", "-e", "-t", "cantor") == first and time.monotonic() < end:
            time.sleep(0.2)
        assert term.run("capture-pane", "-p", "-e", "-t", "cantor") != first
        term.keys("Space")
        end = time.monotonic() + 10
        while "PLAYING" in term.screen() and time.monotonic() < end:
            time.sleep(0.1)
        assert "PLAYING" not in term.screen()
        assert "No audio" not in term.screen()
    finally:
        term.close()
