"""The core's error messages in the session's language, where the app shows them.

``container_edu`` raises :class:`~container_edu.data.images.ImageError`, :class:`~container_edu.hub.checkpoints.CheckpointError`
and :class:`~container_edu.hub.bundled.PretrainedError` with English messages written for the user (the core never
imports the app, and the command line speaks English). Most of those messages are one of a fixed set of sentences
with fields (a path, a size, a count); :func:`translated_message` recognises them by their English template (marked
with ``N_`` below, so that translators see them; ``app.figure_text``'s matcher, each template taken as a whole
message) and returns the translation with the same fields. A message that matches no template (a library's own
text inside it, a rare case) is shown in English, as before.

Keep the templates identical to the core's messages: ``tests/test_i18n.py`` raises the real errors and checks that
they are recognised.
"""

from __future__ import annotations

from app.figure_text import match_whole, shown_fields
from app.i18n import DEFAULT_LANGUAGE, N_, _, current_language

__all__ = ["CORE_MESSAGES", "translated_message", "english_template"]

#: The core's fixed messages (images, files, checkpoints, bundled weights), each matched as a whole.
CORE_MESSAGES: tuple[str, ...] = (
    # container_edu.data.images
    N_("The file is empty (0 bytes). Please choose an image file."),
    N_("The file {path} is empty (0 bytes). Please choose an image file."),
    N_("Could not read {path}: {reason}."),
    N_("The file is too large ({size}); the limit is {limit}. Please resize or compress the image and try again."),
    N_("The file is too large; the limit is {limit}. Please resize or compress the image and try again."),
    N_("The image has far too many pixels to be opened safely. Please resize it (e.g. to under 4000x4000) and try "
       "again."),
    N_("The image is too large to decode in the available memory. Please resize it and try again."),
    N_("The image claims to be {width}x{height} pixels, so it has no pixels; the file is probably corrupt."),
    N_("The image is {width}x{height} = {megapixels} megapixels, above the limit of {limit} megapixels. Please "
       "resize it and try again."),
    N_("This file is not an image in a supported format. Supported formats: {formats}."),
    N_("This file is not an image in a supported format. It looks like a web page (HTML): the link probably pointed "
       "at a page rather than at the image itself. Try 'Save image as...' instead. Supported formats: {formats}."),
    N_("This file is not an image in a supported format. It looks like an SVG/XML file; export it as PNG first. "
       "Supported formats: {formats}."),
    N_("This file is not an image in a supported format. It looks like a HEIC/AVIF photo; convert it to JPEG or PNG "
       "first. Supported formats: {formats}."),
    N_("This file is not an image in a supported format. It is a PDF document; export the page as PNG first. "
       "Supported formats: {formats}."),
    N_("The image file is truncated (it ends too early), probably an incomplete download or upload. Please get a "
       "fresh copy and try again."),
    N_("The file looks like an image but its header is damaged or uses an unsupported variant (details: {details})."
       " Supported formats: {formats}."),
    N_("The file looks like an image but its header is damaged or uses an unsupported variant. Supported formats: "
       "{formats}."),
    N_("The image data is corrupt or truncated and could not be decoded (details: {details}). Please try another "
       "copy of the file."),
    N_("The image data is corrupt or truncated and could not be decoded. Please try another copy of the file."),
    # container_edu.files (opening an image or a checkpoint by path)
    N_("No file found at {path}. Check the path."),
    N_("{path} is a folder, not an image file."),
    N_("Permission denied when reading {path}."),
    N_("Could not open {path}: {reason}."),
    # container_edu.hub.checkpoints
    N_("The checkpoint is empty (0 bytes). Choose the .pth file you downloaded."),
    N_("The uploaded checkpoint is empty (0 bytes). If you passed a file object that was already read, call .seek(0) "
       "first."),
    N_("The checkpoint is too large ({size}); the limit is {limit}. Check that this is the right file (a "
       "Container-Light checkpoint is about 80-250 MB); if it is, raise the limit (max_bytes)."),
    N_("The checkpoint is too large; the limit is {limit}. Check that this is the right file (a Container-Light "
       "checkpoint is about 80-250 MB); if it is, raise the limit (max_bytes)."),
    N_("No checkpoint found at {path}. Check the path (and that the download finished)."),
    N_("{path} is a folder, not a checkpoint file. Point at the .pth file inside it."),
    N_("The checkpoint {path} is empty (0 bytes): the download or copy probably failed. Get the file again."),
    N_("The checkpoint holds a {type}, not a dict of weights; it is not a model checkpoint."),
    N_("The checkpoint holds no tensors (top-level keys: {keys}), so there are no weights in it. It may be a "
       "training log or a config file rather than a model checkpoint."),
    N_("The checkpoint could not be loaded into {model}: {error}"),
    # container_edu.hub.safe_load ({what} names the file: one of WHAT below)
    N_("{what} is not a PyTorch checkpoint. Choose the .pth file of the model weights."),
    N_("{what} is not a PyTorch checkpoint ({foreign}). Choose the .pth file of the model weights."),
    N_("{what} is too large to load in the available memory."),
    N_("{what} is a zip archive, but not one written by torch.save (it has no data.pkl). If the weights are inside "
       "it, extract them first."),
    N_("{what} is truncated or corrupt (details: {details}). It probably did not download completely: download it "
       "again and compare its size with the one published."),
    N_("{what} is truncated or corrupt: its data could not be decoded. Download it again."),
    N_("{what} is not a PyTorch checkpoint that can be loaded safely: it is a pickle that uses features plain weight "
       "files never need. Choose the .pth file of the model weights."),
    N_("{what} is not a PyTorch checkpoint: it is a plain Python pickle, not a file written by torch.save. Choose "
       "the .pth file of the model weights (or re-save the weights with torch.save)."),
    N_("{what} was refused: it asks Python to run code that is not allowed when loading weights ({names}). A "
       "checkpoint should hold only tensors and plain values; this one could run commands on this computer, so "
       "nothing in it was executed. Use the official checkpoint from a source you trust."),
    N_("{what} is a .safetensors file, but the 'safetensors' package is not installed (pip install safetensors)."),
    N_("{what} is a damaged .safetensors file ({error}). Get the file again."),
    # container_edu.hub.weights_store (the ImageNet weights panel); "Download failed" holds one of DOWNLOAD below
    N_("Download failed: {reason}."),
    N_("No file at {path}: give the path of the downloaded .pth file."),
    N_("The ImageNet weights are already being installed by another request; wait for it to finish."),
    N_("Cannot create the weights folder {folder}: {reason}."),
    N_("Cannot write into the weights folder {folder}: {reason}."),
    N_("The checkpoint is damaged: {count} tensors hold NaN or infinite values ({name}, ...)."),
    N_("The converted weights did not read back identically from {path}; is the disk full?"),
    N_("The ImageNet weights are not installed in {folder}: run `python -m container_edu weights fetch` (or "
       "`weights import PATH` with a file you have)."),
    N_("{path} does not match its card (sha256 {digest}... != {expected}...): the file is damaged or was replaced; "
       "run `python -m container_edu weights fetch` again."),
    # container_edu.hub.bundled
    N_("no bundled model named {name}; bundled: {known}"),
    N_("the weights of {name} are missing: expected {path}"),
    N_("the weights of {name} do not match their model card (sha256 {digest}... != {expected}...): the file is "
       "damaged or was replaced; reinstall the package"),
)


#: How the core names the file inside a message (the ``{what}`` field above).
WHAT: tuple[str, ...] = (N_("The checkpoint"), N_("The uploaded checkpoint"), N_("The checkpoint {path}"))

#: Why a download failed (container_edu.hub.download; the ``{reason}`` of "Download failed" above).
DOWNLOAD: tuple[str, ...] = (
    N_("{url} is not an http(s) address; give the full address, starting with https://"),
    N_("the file at {url} is larger than {size}, far more than a Container-Light checkpoint; check the address"),
    N_("the connection to {host} closed after {done} and the transfer could not be resumed; try again"),
    N_("the connection to {host} closed after {done} of {total} and the transfer could not be resumed; try again"),
    N_("{host} answered HTTP {status} for {url}"),
    N_("the file at {url} is {size}, more than the {limit} a Container-Light checkpoint can be; check the address"),
    N_("{url} kept answering with web pages instead of the file; download it in a browser and use "
       "`python -m container_edu weights import PATH`"),
    N_("the secure connection to {host} failed (certificate or TLS problem)"),
    N_("the proxy refused the connection to {host}"),
    N_("could not connect to {host}: no connection to it from this machine (no network, or the host is down); on a "
       "machine without internet use `python -m container_edu weights import PATH`"),
    N_("{host} stopped answering (timed out); try again later"),
    N_("{host} redirected too many times; check the address"),
    N_("the download from {host} failed: {detail}"),
)

#: What a file that is not a checkpoint turned out to be (the ``{foreign}`` field above).
FOREIGN: tuple[str, ...] = (
    N_("it is a PNG image"), N_("it is a JPEG image"), N_("it is a GIF image"), N_("it is a PDF document"),
    N_("it is gzip-compressed (decompress it first)"), N_("it is bzip2-compressed (decompress it first)"),
    N_("it is xz-compressed (decompress it first)"), N_("it is a 7-Zip archive (extract it first)"),
    N_("it is a NumPy .npy array"), N_("it is an HDF5 (Keras / TensorFlow) file"), N_("it is a WebP image"),
    N_("it is a Git LFS pointer, not the weights: run `git lfs pull` or download the file itself"),
    N_("it is a web page: the download link probably pointed at a page, not at the file"),
    N_("it looks like a text file"),
)


def english_template(message: str) -> tuple[str, dict[str, str]] | None:
    """The template ``message`` was made from and its fields, or ``None`` when it is not one of :data:`CORE_MESSAGES`.

    The longest template wins, so a message with a detail is not taken for the one without it.
    """
    return match_whole(message, CORE_MESSAGES)


def translated_message(error: BaseException | str) -> str:
    """The error's message in the session's language (unchanged in English, or when it is not a known message)."""
    from app.deployment import without_server_folders  # here: deployment imports the core, which is slow to import

    message = without_server_folders(str(error))
    if current_language() == DEFAULT_LANGUAGE:
        return message
    found = english_template(message)
    if found is None:
        return message
    template, fields = found
    for name, parts in (("what", WHAT), ("foreign", FOREIGN), ("reason", DOWNLOAD)):
        if name in fields:
            fields[name] = _translated_part(fields[name], parts)
    return _(template).format(**shown_fields(fields))


def _translated_part(text: str, templates: tuple[str, ...]) -> str:
    found = match_whole(text, templates)
    if found is None:
        return text
    template, fields = found
    return _(template).format(**fields)
