"""Prompts for FLORA's everyday workflows: hosts show them as slash commands.

Each prompt turns a few arguments into one user message that names the tools and the values to
call them with, so the agent does the workflow in as few calls as the tools allow. Arguments are
strings (the protocol's); `_completions` completes them.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from flora_mcp._constants import BATCH_LIMIT

SOCIAL_FORMATS: Final = "1:1, 4:5, 9:16, 16:9"

Photo = Annotated[
    str,
    Field(description="The picture to start from: a run_id, an output or https URL, or a local file path"),
]
Count = Annotated[str, Field(description="How many to make (1-8)")]
Model = Annotated[str, Field(description="A model_id from list_models; empty: let the server choose")]
ProjectId = Annotated[str, Field(description="prj_… to file the runs in; empty: 'Quick generations'")]


def _reference(photo: str) -> str:
    """How the agent turns `photo` into a URL FLORA reads."""
    if photo.startswith("run_"):
        return (
            f"The picture is the first output of run {photo}: read it with list_generations "
            f'(run_ids=["{photo}"]) and use its output URL.'
        )
    if photo.startswith("https://") and ("flora.ai" in photo or "imagekit.io" in photo):
        return f"The picture is at {photo}, on FLORA's own media host: use the URL as it is."
    return (
        f"The picture is {photo!r}: call upload_asset with source={photo!r} first and use the url it returns."
    )


def _count(value: str, default: int, low: int = 1, high: int = 8) -> int:
    try:
        return max(low, min(high, int(value)))
    except ValueError:
        return default


def _place(project_id: str) -> str:
    return f' Pass project_id="{project_id}".' if project_id else ""


def product_shots(
    photo: Photo,
    product: Annotated[str, Field(description="What the product is, e.g. 'a ceramic mug'")] = "",
    count: Count = "3",
    setting: Annotated[str, Field(description="Where to show it, e.g. 'a sunlit kitchen table'")] = "",
    model: Model = "",
    technique: Annotated[str, Field(description="A technique_id to use instead (list_techniques)")] = "",
    project_id: ProjectId = "",
) -> str:
    n = _count(count, 3)
    what = product or "the product in the photo"
    where = setting or "a clean studio set with soft daylight"
    if technique:
        how = (
            f"Run the technique with run_technique(technique_id={technique!r}, inputs={{<its image input>: "
            f"<the URL>}}) {n} time(s); list_techniques with technique_id={technique!r} names its inputs."
        )
    else:
        chosen = f'model="{model}"' if model else "an i2i- model from list_models(type='image')"
        how = (
            f'Call generate once with count={n}, {chosen}, params={{"image_url": <the URL>}} and a prompt '
            f"describing {what} in {where}, photographed as a product shot (sharp focus on the product, "
            "true colours, no added text)."
        )
    return (
        f"Make {n} product shots of {what} from a photo.\n{_reference(photo)}\n{how}{_place(project_id)}\n"
        "Show the results and offer to save_outputs the ones I like."
    )


async def variations(
    run_id: Annotated[str, Field(description="The run whose output to vary (run_…)")],
    ctx: Context[Any, Any],
    change: Annotated[str, Field(description="What to change, e.g. 'warmer light, a blue mug'")] = "",
    count: Count = "4",
    model: Model = "",
) -> str:
    n = _count(count, 4)
    earlier = await _earlier(ctx, run_id)
    chosen = f'model="{model}"' if model else "an i2i- model from list_models(type='image')"
    prompt = f"the original prompt ({earlier})" if earlier else "a prompt describing the picture"
    twist = (
        f", changed this way: {change}" if change else ", each a little different in pose, light or framing"
    )
    return (
        f"Make {n} variations of the output of {run_id}.\n{_reference(run_id)}\n"
        f'Call generate with count={n}, {chosen}, params={{"image_url": <that URL>}} and {prompt}{twist}. '
        "Use the same project as the original (list_generations shows its project_id).\n"
        "Show the variations next to the original."
    )


async def _earlier(ctx: Context[Any, Any], run_id: str) -> str | None:
    """What the journal remembers of a run: its prompt and model, to start the variations from."""
    from flora_mcp.server._context import account  # the API client: only when a prompt needs it

    try:
        entry = (await (await account(ctx)).history.entries([run_id])).get(run_id)
    except Exception:  # a hint: the prompt works without it
        return None
    if entry is None or not entry.prompt:
        return None
    return f"{entry.prompt!r}" + (f" on {entry.model}" if entry.model else "")


def social_formats(
    photo: Photo,
    formats: Annotated[
        str, Field(description=f"Aspect ratios wanted, default {SOCIAL_FORMATS}")
    ] = SOCIAL_FORMATS,
    project_id: ProjectId = "",
) -> str:
    ratios = [r.strip() for r in formats.split(",") if r.strip()] or SOCIAL_FORMATS.split(", ")
    return (
        f"Resize one picture for social media: {', '.join(ratios)}.\n{_reference(photo)}\n"
        "Look for an aspect-ratio action with list_techniques (actions are mostly free) and run it once per "
        "format with run_technique; if none fits, call generate_batch with one item per format: type "
        '"image", an i2i- model, params {"image_url": <the URL>, "aspect_ratio": <the format>} and a prompt '
        f"asking to extend the scene to that shape without cropping the subject.{_place(project_id)}\n"
        "If a format crops, say how much of the picture it cuts. Show every format, labelled."
    )


def campaign_batch(
    brief: Annotated[str, Field(description="The campaign: product, audience, tone")],
    images: Annotated[str, Field(description=f"How many images (0-{BATCH_LIMIT})")] = "4",
    videos: Annotated[str, Field(description="How many videos")] = "1",
    texts: Annotated[str, Field(description="How many pieces of copy")] = "2",
    audio: Annotated[str, Field(description="How many audio clips (jingle, voice-over)")] = "0",
    model: Annotated[str, Field(description="An image model_id for the pictures; empty: the default")] = "",
    project_id: ProjectId = "",
) -> str:
    counts = {
        kind: _count(value, 0, 0, BATCH_LIMIT)
        for kind, value in (("image", images), ("video", videos), ("text", texts), ("audio", audio))
    }
    total = sum(counts.values()) or 1
    wanted = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "1 image"
    image_model = f' (model "{model}" for the images)' if model else ""
    over = f" Split it into batches of at most {BATCH_LIMIT} items." if total > BATCH_LIMIT else ""
    return (
        f"Produce a campaign: {brief}\nWanted: {wanted}.\n"
        f"Write one distinct prompt per item from the brief (varied scenes for images, a short shot list for "
        f"videos, headline and body copy for texts), then start them all with one generate_batch call: "
        f"items of type, prompt, model and params{image_model}.{over}{_place(project_id)} The user is asked "
        "before a dear batch is spent.\nShow everything grouped by type, with what it cost."
    )


PROMPTS: Final = (
    (product_shots, "Product shots from a photo", "Studio-style product shots from one photo of a product."),
    (variations, "Variations of an earlier output", "New takes on an earlier image run, optionally changed."),
    (social_formats, "One picture, every social format", "One picture resized for 1:1, 4:5, 9:16, 16:9…"),
    (campaign_batch, "A mixed campaign batch", "Images, videos, copy and audio for one brief, in one batch."),
)
NAMES: Final = tuple(fn.__name__ for fn, _, _ in PROMPTS)


def register_prompts(server: MCPServer[Any]) -> None:
    for fn, title, description in PROMPTS:
        server.prompt(name=fn.__name__, title=title, description=description)(fn)
