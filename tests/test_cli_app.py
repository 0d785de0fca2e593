"""`cantor [FILE]` and `cantor serve`: argument handling, errors, and the web server answering."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cantor(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kw,
    )


def test_a_bad_file_is_a_one_line_error_before_the_screen_opens(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    result = cantor(str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("cantor: error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_open_help_names_the_file_argument():
    result = cantor("open", "--help")
    assert result.returncode == 0 and "FILE" in result.stdout.upper() and "--ascii" in result.stdout


def test_serve_answers_on_localhost(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        banner = [server.stderr.readline().decode() for _ in range(2)]
        url = banner[1].strip()  # the address with its token, printed once the port is taken
        assert url.startswith(f"http://127.0.0.1:{port}/?token="), banner
        page = None
        end = time.monotonic() + 30
        while time.monotonic() < end and page is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    page = response.read().decode("utf-8", "replace")
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.2)
        assert page is not None and "cantor" in page.lower()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_help_says_how_to_open_the_composer_and_ascii():
    result = cantor("--help")
    assert result.returncode == 0
    assert "--ascii" in result.stdout and "opens the composer" in result.stdout


def test_composer_options_may_come_first(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    result = cantor("--ascii", str(bad))  # routed to the composer, which reads the file first
    assert result.returncode == 1 and result.stderr.startswith("cantor: error: ")
    assert "invalid choice" not in result.stderr


def test_a_missing_checkpoint_is_reported_before_the_screen_opens(tmp_path):
    result = cantor("--checkpoint", str(tmp_path / "nope.pt"))
    assert result.returncode == 1
    assert result.stderr.startswith("cantor: error: checkpoint") and "nope.pt" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_wav_given_as_midi_is_not_a_midi_file_whatever_its_size(tmp_path):
    wav = tmp_path / "take.wav"
    wav.write_bytes(b"RIFF" + bytes(3 * 2**20))  # 3 MB: over the MIDI size limit too
    result = cantor(str(wav))
    assert result.returncode == 1 and "not a MIDI file" in result.stderr, result.stderr
    assert "MB" not in result.stderr


def test_voices_by_name_or_letter():
    import pytest

    from engine.errors import ScoreError
    from engine.music.score import parse_voices

    assert parse_voices("alto") == (1,) and parse_voices("soprano, bass") == (0, 3)
    assert parse_voices("S,A") == (0, 1) and parse_voices("satb") == (0, 1, 2, 3)
    with pytest.raises(ScoreError, match="unknown voice 'altos'"):
        parse_voices("altos")


def test_train_refuses_an_unknown_preset_before_reading_data(tmp_path):
    result = cantor(
        "train", "coconet", "--data", f"jsb16:{tmp_path / 'absent.json'}",
        "--config", "nosuchpreset", "--out", str(tmp_path / "run"),
    )
    assert result.returncode == 1, result.stderr
    assert "--config must be a preset" in result.stderr and "absent.json" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_composer_and_each_browser_session_take_the_model(tmp_path):
    from cli import build_parser
    from commands.app import app_command

    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    result = cantor("--model", "fast", str(bad))  # accepted: the composer then reads the file
    assert result.returncode == 1 and result.stderr.startswith("cantor: error: ")
    result = cantor("--model", "huge", str(bad))
    assert result.returncode == 2 and "invalid choice: 'huge'" in result.stderr
    args = build_parser().parse_args(["serve", "--model", "fast", "--root", str(tmp_path)])
    command = app_command(args, tmp_path)
    assert command[-2:] == ["--model", "fast"] and "--checkpoint" not in command
    args = build_parser().parse_args(["serve"])
    assert "--model" not in app_command(args, tmp_path)
