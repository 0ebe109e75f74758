"""Video and audio a user can see and hear in any host: poster frames, durations, audio blocks,
technique output names and what a crop cuts. Pure shaping, no I/O."""

from __future__ import annotations

import base64
import io
import struct
import wave
from fractions import Fraction

import pytest
from mcp.types import AudioContent, ImageContent, ResourceLink, TextContent
from PIL import Image

from flora_mcp import rendering
from flora_mcp.client import Run


def _gif(size: tuple[int, int] = (320, 180), frames: int = 8, ms: int = 100) -> bytes:
    images = [Image.new("RGB", size, (30 * i, 80, 200)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0)
    return out.getvalue()


def _wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(struct.pack("<h", 0) * int(rate * seconds))
    return out.getvalue()


def _mp4(size: tuple[int, int] = (320, 240), frames: int = 12, fps: int = 24) -> bytes:
    av = pytest.importorskip("av")
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (250, 20 + 10 * i, 20)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _run(*outputs: tuple[str, str, str]) -> Run:
    return Run.model_validate(
        {
            "run_id": "run_media",
            "status": "completed",
            "progress": 100,
            "created_at": 0,
            "outputs": [{"output_id": i, "type": t, "url": u} for i, t, u in outputs],
        }
    )


def test_a_gif_clips_first_frame_is_its_poster_and_its_frame_times_its_duration() -> None:
    clip = _gif()
    poster = rendering.inline_image(clip, 256)
    with Image.open(io.BytesIO(base64.b64decode(poster.data))) as shown:
        assert shown.size == (256, 144) and shown.format == "JPEG"
    assert rendering.duration(clip) == pytest.approx(0.8)


def test_an_mp4s_first_frame_is_decoded_for_its_poster() -> None:
    clip = _mp4()
    frame = rendering.first_frame(clip)
    assert frame.size == (320, 240)
    red, green, _ = frame.getpixel((160, 120))  # type: ignore[misc]
    assert red > 200 and green < 60  # the first frame, not a later one
    assert rendering.duration(clip) == pytest.approx(0.5, abs=0.1)


def test_bytes_that_are_no_picture_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match=r"not an image|no frame"):
        rendering.first_frame(b"not a video at all")


def test_audio_has_its_duration_and_rides_inline_only_when_small() -> None:
    short, long = _wav(2.0), _wav(30.0)
    assert rendering.duration(short) == pytest.approx(2.0)
    block = rendering.audio_block(short, "audio/wav")
    assert block is not None and base64.b64decode(block.data) == short
    assert rendering.audio_block(long, "audio/wav") is None  # too big: linked, with its duration
    assert rendering.duration(long) == pytest.approx(30.0)


def test_a_video_and_an_audio_show_their_poster_clip_and_length_in_the_result() -> None:
    video, audio = "https://media.flora.ai/v.mp4", "https://media.flora.ai/a.wav"
    run = _run(("output_1", "videoUrl", video), ("output_2", "audioUrl", audio))
    poster = rendering.inline_image(_gif(), 256)
    clip = rendering.audio_block(_wav(2.0), "audio/wav")
    media = {video: rendering.Media(poster, 0.8), audio: rendering.Media(clip, 2.0)}

    blocks = rendering.run_content(run, media)

    summary = blocks[0]
    assert isinstance(summary, TextContent)
    assert f"{video} (0.8 s, first frame below)" in summary.text
    assert f"{audio} (2.0 s, playable below)" in summary.text
    kinds = [type(b) for b in blocks[1:]]
    assert kinds == [ResourceLink, ImageContent, ResourceLink, AudioContent]


def test_audio_shares_the_byte_budget_with_pictures() -> None:
    reserved = rendering.audio_reserve(1)
    assert reserved >= rendering.AUDIO_INLINE_BYTES * 4 // 3
    _, alone = rendering.preview_plan(2, 1024)
    _, beside_audio = rendering.preview_plan(2, 1024, reserved)
    assert (
        2 * beside_audio * 4 // 3 + reserved <= rendering.INLINE_BASE64_BUDGET < 2 * alone * 4 // 3 + reserved
    )
    assert rendering.audio_reserve(10) == rendering.INLINE_BASE64_BUDGET // 2


def test_technique_outputs_are_named_by_their_output_names() -> None:
    run = _run(*((f"output_{i}", "imageUrl", f"https://media.flora.ai/{i}.png") for i in (1, 2, 3)))

    named = rendering.labelled(run, ["square", "landscape", "portrait"])

    assert [o.output_id for o in named.outputs] == ["square", "landscape", "portrait"]
    text = rendering.run_summary(named)
    assert "- imageUrl square: https://media.flora.ai/1.png" in text
    links = [b for b in rendering.output_blocks(named, {}) if isinstance(b, ResourceLink)]
    assert [link.name for link in links] == ["run_media/square", "run_media/landscape", "run_media/portrait"]
    assert rendering.labelled(run, ["square"]) is run  # lists that do not line up: left as FLORA named them


def test_a_crop_to_a_ratio_says_how_much_it_cuts_and_offers_padding() -> None:
    note = rendering.crop_note((1536, 1152), (16, 9), "16:9")
    assert note is not None
    assert "cuts 25% of the picture (keeps 1536x864" in note and 'fit="pad"' in note
    assert rendering.crop_note((1600, 900), (16, 9), "16:9") is None  # already that shape
    assert rendering.ratio_of("16:9") == (16, 9) and rendering.ratio_of("wide") is None
