"""Import the saved objects in ``mappings/kibana`` (a data view on the alias) into Kibana."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

from ..errors import XLSearchError
from ..mapping import mappings_dir


def saved_objects_file(alias: str) -> bytes:
    """The data-view file, retargeted at ``alias`` when it is not 'products'."""
    raw = (mappings_dir() / "kibana" / "products-data-view.ndjson").read_text(encoding="utf-8")
    lines = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("type") == "index-pattern":
            obj["id"] = f"xlsearch-{alias}"
            obj["attributes"]["title"] = alias
            obj["attributes"]["name"] = f"xlsearch: {alias}"
        lines.append(json.dumps(obj, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def import_saved_objects(kibana_url: str, alias: str, timeout: float = 30.0) -> dict:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="xlsearch.ndjson"\r\n'
            "Content-Type: application/ndjson\r\n\r\n"
        ).encode()
        + saved_objects_file(alias)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        kibana_url.rstrip("/") + "/api/saved_objects/_import?overwrite=true",
        data=body,
        method="POST",
        headers={"kbn-xsrf": "true", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # user-given URL
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise XLSearchError(f"Kibana at {kibana_url} refused the import ({exc.code}): {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise XLSearchError(f"cannot reach Kibana at {kibana_url}: {getattr(exc, 'reason', exc)}") from None


__all__ = ["import_saved_objects", "saved_objects_file"]
