"""`cantor render` (MIDI -> WAV through FluidSynth) and `cantor play` (live, through the sound card)."""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers) -> None:
    render = subparsers.add_parser(
        "render",
        help="render a MIDI file to a WAV file with a SoundFont",
        description="Render a MIDI file to a 16-bit stereo 44.1 kHz WAV with FluidSynth.",
    )
    render.add_argument("input", metavar="IN.mid", help="MIDI file to render")
    render.add_argument("-o", "--output", metavar="OUT.wav", required=True, help="WAV file to write")
    render.add_argument("--bars", metavar="A-B", help="render only bars A to B (e.g. 1-4, or 3)")
    _add_sound_options(render)
    render.set_defaults(func=run_render)

    play = subparsers.add_parser(
        "play",
        help="play a MIDI file through the sound card (Ctrl-C stops)",
        description="Play a MIDI file through FluidSynth: to a forwarded sound server (--server or"
        " $PULSE_SERVER, e.g. your laptop's through an SSH tunnel) or this machine's output device;"
        " with --wav-to, write a WAV to fetch with scp instead.",
    )
    play.add_argument("input", metavar="IN.mid", help="MIDI file to play")
    play.add_argument("--from-bar", type=int, metavar="N", help="start at bar N (default: 1)")
    play.add_argument("--loop", action="store_true", help="repeat until Ctrl-C")
    play.add_argument(
        "--server", metavar="SERVER",
        help="PulseAudio/PipeWire server to play through, e.g. tcp:localhost:24713 at the end of"
        " an `ssh -R 24713:localhost:4713` tunnel (default: $PULSE_SERVER, else this machine)",
    )
    play.add_argument(
        "--wav-to", metavar="DIR",
        help="play nothing: write the WAV into DIR and print the scp command that fetches it",
    )
    _add_sound_options(play)
    play.set_defaults(func=run_play)


def _add_sound_options(parser) -> None:
    parser.add_argument("--soundfont", metavar="SF2", help="SoundFont file (.sf2/.sf3) to use")
    parser.add_argument("--tempo", type=_tempo, metavar="BPM", help="tempo in quarter notes per minute")
    parser.add_argument(
        "--programs",
        type=_programs,
        metavar="P[,P,P,P]",
        help="General MIDI program (0-127) for all voices, or one per voice S,A,T,B",
    )
    parser.add_argument("--velocity", type=_velocity, default=90, metavar="V",
                        help="note velocity 1-127 (default 90)")
    parser.add_argument("--mute", metavar="VOICES", help="voices to silence, e.g. A,T")
    parser.add_argument("--solo", metavar="VOICES", help="voices to play alone, e.g. S")


def _tempo(text: str) -> float:
    try:
        bpm = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tempo must be a number of BPM; got {text!r}") from None
    if not 10 <= bpm <= 400:
        raise argparse.ArgumentTypeError(f"tempo must be in range 10..400 BPM; got {text}")
    return bpm


def _programs(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(p) for p in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"programs must be numbers 0..127 separated by commas; got {text!r}"
        ) from None
    if len(values) == 1:
        values *= 4
    if len(values) != 4 or any(not 0 <= p <= 127 for p in values):
        raise argparse.ArgumentTypeError(
            f"programs must be one or four GM numbers in range 0..127; got {text!r}"
        )
    return values


def _velocity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 127:
        raise argparse.ArgumentTypeError(f"velocity must be in range 1..127; got {text!r}")
    return value


def _load(args):
    """The score of IN.mid with --tempo/--programs applied, and the mute/solo voice sets."""
    from engine.music.load import load_score
    from engine.music.score import parse_voices

    score = load_score(args.input)
    if args.tempo is not None:
        score = score.replace(tempo_bpm=args.tempo)
    if args.programs is not None:
        score = score.replace(programs=args.programs)
    mute = parse_voices(args.mute) if args.mute else ()
    solo = parse_voices(args.solo) if args.solo else ()
    heard = [v for v in (solo or range(4)) if v not in mute]
    if not heard:
        from engine.errors import ScoreError

        raise ScoreError("--mute and --solo leave no voice to hear: nothing would sound")
    return score, {"mute": mute, "solo": solo, "velocity": args.velocity}


def _bars(score, text: str) -> tuple[int, int]:
    from engine.errors import ScoreError

    first, _, last = text.partition("-")
    try:
        a, b = int(first), int(last or first)
    except ValueError:
        raise ScoreError(f"bars must look like A-B or A (e.g. 1-4); got {text!r}") from None
    return score.bar_range(a, b)


def run_render(args) -> int:
    from engine.audio.playback import WavFileError, render_wav
    from engine.audio.soundfont import find_soundfont
    from engine.errors import ScoreError
    from engine.fileio import checked_output

    checked_output(args.output, "WAV file", error=WavFileError, inputs=[args.input])
    score, options = _load(args)
    if score.num_steps == 0 or not (score.pitches >= 0).any():
        raise ScoreError(f"{args.input} has no notes to render")
    start, end = _bars(score, args.bars) if args.bars else (0, score.num_steps)
    soundfont = find_soundfont(args.soundfont)
    began = time.perf_counter()
    path = render_wav(score, args.output, start=start, end=end, soundfont=soundfont, **options)
    seconds = (end - start) * score.seconds_per_step
    print(
        f"wrote {path} ({seconds:.1f} s of music, SoundFont {soundfont.name},"
        f" {time.perf_counter() - began:.2f} s to render)"
    )
    return 0


def run_wav_to(args, score, start: int, options: dict) -> int:
    """`cantor play --wav-to DIR`: nothing to hear here, so a WAV to fetch and the scp line."""
    from pathlib import Path

    from engine.audio.playback import WavFileError, render_wav
    from engine.audio.sink import fetch_command

    folder = Path(args.wav_to).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WavFileError(f"cannot make the folder {folder} ({exc.strerror})") from None
    target = folder / (Path(args.input).stem + ".wav")
    from engine.fileio import checked_output

    checked_output(target, "WAV file", error=WavFileError, inputs=[args.input])
    path = render_wav(score, target, start=start, soundfont=args.soundfont, **options)
    print(f"wrote {path}")
    print(f"fetch it with: {fetch_command(path)}")
    return 0


def run_play(args) -> int:
    from engine.audio.playback import Player
    from engine.audio.sink import in_ssh_session, is_loopback
    from engine.errors import AudioUnavailable, ScoreError

    score, options = _load(args)
    if score.num_steps == 0:
        raise ScoreError(f"{args.input} has no notes to play")
    start = 0
    if args.from_bar is not None:
        start = score.bar_range(args.from_bar, args.from_bar)[0]
    if args.wav_to:
        return run_wav_to(args, score, start, options)
    try:
        player = Player(args.soundfont, server=args.server)
    except AudioUnavailable as exc:
        raise AudioUnavailable(f"{exc}; or fetch a WAV: `cantor play IN.mid --wav-to DIR`") from None
    where = ""
    if player.server:
        tunnel = in_ssh_session() and is_loopback(player.server)
        where = f" to {player.server}{' via SSH tunnel' if tunnel else ''}"
    show = sys.stdout.isatty()  # a moving bar:beat counter only on a terminal
    try:
        player.play(score, start, loop=args.loop, **options)
        print(f"playing {args.input} with {player.soundfont.name}{where} (Ctrl-C stops)",
              flush=True)
        while player.is_playing:
            step = player.position()
            if show and step is not None:
                print(f"\r  bar {score.location_text(step):<8}", end="", flush=True)
            time.sleep(0.05)
        if show:
            print()
        if player.failure:
            raise AudioUnavailable(player.failure)
    except KeyboardInterrupt:
        step = player.position()
        player.stop()
        where = f" at bar {score.location_text(step)}" if step is not None else ""
        print(f"\nstopped{where}")
    finally:
        player.close()
    return 0
