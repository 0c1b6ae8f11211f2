"""Evidence uploads: the real file type is read from its first bytes, not trusted."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from aftersales.cases.events import event_evidence_added
from aftersales.cases.models import Case, Evidence, EvidenceKind
from aftersales.cases.transitions import _require
from aftersales.core.errors import Invalid

# ISO-BMFF brands (MP4, MOV, HEIC photos from phones) share the "ftyp" box at offset 4.
_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
    b"qt  ": "video/quicktime",
}


def sniff_content_type(head: bytes) -> str | None:
    """The media type the bytes really are, for the kinds of file we accept; else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    return None


def upload_check(upload: UploadedFile, errors: dict[str, str] | None = None) -> str:
    """Refuse an empty, oversized or unsupported file; returns its real content type. Every
    file people attach (evidence, proof of a refund) passes here."""
    errors = dict(errors or {})
    max_bytes = settings.EVIDENCE_MAX_BYTES
    if upload.size is None or upload.size == 0:
        errors["file"] = _("The file is empty.")
    elif upload.size > max_bytes:
        errors["file"] = _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // 2**20}
    if errors:
        raise Invalid("evidence.invalid", _("The file cannot be attached."), errors)
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    content_type = sniff_content_type(head)
    if content_type is None:
        raise Invalid(
            "evidence.unsupported_type",
            _("Only photos (JPEG, PNG, GIF, WebP, HEIC), videos (MP4, MOV) and PDF are accepted."),
            {"file": _("Unsupported file type.")},
        )
    return content_type


@transaction.atomic
def evidence_add(
    *, case: Case, actor: AbstractBaseUser | None, upload: UploadedFile, kind: str
) -> Evidence:
    _require(actor, "cases.act_add_evidence", case.shop_id)
    errors: dict[str, str] = {}
    if kind not in EvidenceKind.values:
        errors["kind"] = _("Unknown evidence kind.")
    content_type = upload_check(upload, errors)
    evidence = Evidence.objects.create(
        shop_id=case.shop_id,
        case=case,
        kind=kind,
        file=upload,
        content_type=content_type,
        size=upload.size,
        original_name=(upload.name or "")[:200],
        uploaded_by=actor,
    )
    event_evidence_added(
        case=case, actor=actor, evidence_id=evidence.pk, kind=kind, name=evidence.original_name
    )
    return evidence
