#!/usr/bin/env python3
"""Build the operator's container image without a Docker daemon, as an OCI image layout tarball.

    python3 tests/image/build.py [BINARY]        (make image: after cargo build --release)

BINARY defaults to target/release/privatelink-operator. Writes
target/image/privatelink-operator-<version>.oci.tar (an OCI image layout: oci-layout, index.json,
blobs/sha256/..., plus Docker's manifest.json, so `docker load`, `podman load`, `skopeo copy
oci-archive:...` and `crane push` all take it) and target/image/privatelink-operator-<version>.digest.

The image is the one the Dockerfile builds: gcr.io/distroless/cc-debian12:nonroot plus the binary.

  layer 1 (base)  Debian bookworm's libc6, libgcc-s1, ca-certificates, base-files, netbase and tzdata,
                  fetched with `apt-get download` through a private apt state in target/image/cache/apt
                  (the host's apt setup is not used or changed) and read with `dpkg-deb --fsys-tarfile`;
                  docs (except copyright), man pages, locales, lintian overrides, iconv modules and
                  tzdata's right/ removed; the CA bundle /etc/ssl/certs/ca-certificates.crt built from
                  the Mozilla certificates; /etc/passwd and /etc/group with root, nobody and
                  nonroot (65532); /home/nonroot; /var/lib/dpkg/status.d/<package> for SBOM scanners.
  layer 2 (app)   /usr/bin/privatelink-operator.
  config          User 65532:65532, Entrypoint /usr/bin/privatelink-operator, Cmd run, WorkingDir
                  /home/nonroot, Env PATH and SSL_CERT_FILE (as distroless), org.opencontainers.image.*
                  labels.

Reproducible: tar entries sorted, uid/gid 0 (65532 for /home/nonroot), no user names, base-layer
mtimes fixed to the newest file in the packages, app layer and config at SOURCE_DATE_EPOCH (default:
the commit time of HEAD), gzip without name or timestamp. The base layer is cached by input hash
(this script, the package list, suite and mirrors): a rerun touches no network.
IMAGE_REFRESH=1 resolves the Debian packages again (security updates).

Environment: IMAGE_REPOSITORY (default ghcr.io/privatelink-operator/privatelink-operator),
IMAGE_SOURCE (source URL label), IMAGE_REVISION (default git HEAD), SOURCE_DATE_EPOCH,
IMAGE_DEBIAN_MIRROR (http://deb.debian.org/debian), IMAGE_DEBIAN_SECURITY_MIRROR
(http://deb.debian.org/debian-security), IMAGE_REFRESH.
"""

import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "image"
CACHE = OUT / "cache"

REPOSITORY = os.environ.get("IMAGE_REPOSITORY", "ghcr.io/privatelink-operator/privatelink-operator")
SOURCE = os.environ.get("IMAGE_SOURCE", "https://github.com/privatelink-operator/privatelink-operator")
SUITE = "bookworm"  # = distroless cc-debian12 and the Dockerfile's rust:*-bookworm builder
ARCH = "amd64"
MIRROR = os.environ.get("IMAGE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("IMAGE_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
PACKAGES = ["base-files", "netbase", "tzdata", "ca-certificates", "libgcc-s1", "libc6"]
BINARY_PATH = "usr/bin/privatelink-operator"
NONROOT = 65532

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

# Paths (relative, no leading slash) dropped from the packages; a prefix drops the whole tree.
DROP_PREFIXES = (
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/lintian/",
    "usr/share/bug/",
    "usr/lib/x86_64-linux-gnu/gconv/",  # iconv modules: Rust does not use iconv
    "usr/share/zoneinfo/right/",  # leap-second variants
    "usr/share/ca-certificates/",  # replaced by the bundle in /etc/ssl/certs
    "usr/sbin/update-ca-certificates",
    "etc/ca-certificates/",
    "etc/update-motd.d/",
)

PASSWD = """root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
"""
GROUP = """root:x:0:
tty:x:5:
staff:x:50:
nobody:x:65534:
nonroot:x:65532:
"""
NSSWITCH = """passwd: files
group: files
shadow: files
hosts: files dns
networks: files
protocols: files
services: files
"""


def log(msg):
    print(f"image: {msg}", flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git(*args):
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def rfc3339(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- Debian packages ----


def apt(*args, capture=False, cwd=None):
    state = CACHE / "apt"
    opts = [
        f"Dir::Etc::SourceList={state}/sources.list",
        "Dir::Etc::SourceParts=/nonexistent",
        "Dir::Etc::Preferences=/nonexistent",
        "Dir::Etc::PreferencesParts=/nonexistent",
        f"Dir::State={state}/state",
        f"Dir::State::Lists={state}/lists",
        "Dir::State::status=/dev/null",
        f"Dir::Cache={state}/cache",
        f"APT::Architecture={ARCH}",
        f"APT::Architectures={ARCH}",
        "APT::Sandbox::User=root" if os.geteuid() == 0 else "APT::Sandbox::User=",
        "Acquire::Languages=none",
        "Acquire::Retries=3",
    ]
    cmd = ["apt-get", "-q"] + [x for o in opts for x in ("-o", o)] + list(args)
    try:
        return subprocess.run(cmd, check=True, text=True, capture_output=capture, cwd=cwd)
    except subprocess.CalledProcessError as e:
        sys.exit(f"image: {' '.join(args[:1])} failed:\n{e.stderr or ''}{e.stdout or ''}")


def fetch_debs():
    """apt-get update + download into cache/debs; returns the .deb paths in PACKAGES order."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        sys.exit("image: needs apt-get and dpkg-deb (a Debian/Ubuntu host)")
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if not keyring.exists():
        sys.exit(f"image: {keyring} is missing (apt-get install debian-archive-keyring)")
    state = CACHE / "apt"
    for d in ("state", "lists/partial", "cache/archives/partial"):
        (state / d).mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={keyring}]"
    (state / "sources.list").write_text(
        f"deb {signed} {MIRROR} {SUITE} main\n"
        f"deb {signed} {MIRROR} {SUITE}-updates main\n"
        f"deb {signed} {SECURITY_MIRROR} {SUITE}-security main\n"
    )
    log(f"resolving Debian {SUITE} packages: {' '.join(PACKAGES)}")
    apt("update", capture=True)
    uris = apt("download", "--print-uris", *PACKAGES, capture=True).stdout
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    want = {}
    for line in uris.splitlines():
        # 'http://.../libc6_2.36-9%2bdeb12u14_amd64.deb' libc6_2.36-9+deb12u14_amd64.deb 2759320 SHA256:...
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith("SHA256:"):
            want[parts[1]] = parts[3].removeprefix("SHA256:")
    by_name = {f.split("_", 1)[0]: f for f in want}
    missing = [p for p in PACKAGES if p not in by_name]
    if missing:
        sys.exit(f"image: apt knows no {missing}")
    todo = [
        p
        for p in PACKAGES
        if not ((debs / by_name[p]).exists() and sha256_file(debs / by_name[p]) == want[by_name[p]])
    ]
    if todo:
        log(f"downloading {' '.join(by_name[p] for p in todo)}")
        apt("download", *todo, capture=True, cwd=debs)
    for stale in debs.glob("*.deb"):  # superseded versions
        if stale.name not in want:
            stale.unlink()
    for f, h in want.items():
        got = sha256_file(debs / f)
        if got != h:
            sys.exit(f"image: {f}: sha256 {got}, apt says {h}")
    return [debs / by_name[p] for p in PACKAGES]


# ---- Layers ----


def entry(path, kind, mode, data=b"", linkname="", uid=0, gid=0):
    ti = tarfile.TarInfo(path)
    ti.type, ti.mode, ti.uid, ti.gid, ti.linkname = kind, mode, uid, gid, linkname
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    return ti, data


def dropped(path, ti):
    if any(path.startswith(p) or path + "/" == p for p in DROP_PREFIXES):
        return True
    if path.startswith("usr/share/doc/"):
        parts = path.split("/")  # keep usr/share/doc/<pkg>/ and its copyright file
        return not (
            (len(parts) == 4 and ti.isdir()) or (len(parts) == 5 and parts[4] == "copyright" and ti.isreg())
        )
    return False


def read_deb(deb, entries, certs):
    """Adds the files of a .deb to entries (path -> (TarInfo, data)) and its Mozilla CA certificates to
    certs (name -> PEM); returns its control file."""
    fsys = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(fsys)) as tf:
        for m in tf.getmembers():
            path = "" if m.name in (".", "./") else m.name.removeprefix("./").rstrip("/")
            if path.startswith("usr/share/ca-certificates/mozilla/") and path.endswith(".crt"):
                certs[path.rsplit("/", 1)[1]] = tf.extractfile(m).read()
            if not path or dropped(path, m):
                continue
            if m.isreg():
                entries[path] = entry(path, tarfile.REGTYPE, m.mode, tf.extractfile(m).read())
            elif m.islnk():  # hard link: a copy (the target precedes it in the archive)
                target = m.linkname.removeprefix("./")
                entries[path] = entry(path, tarfile.REGTYPE, m.mode, entries[target][1])
            elif m.issym():
                entries[path] = entry(path, tarfile.SYMTYPE, 0o777, linkname=m.linkname)
            elif m.isdir():
                entries[path] = entry(path, tarfile.DIRTYPE, m.mode)
            else:
                sys.exit(f"image: {deb.name}: unsupported member {m.name}")
            entries[path][0].mtime = m.mtime  # only to find the newest; reset when written
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True).stdout
    return control


def write_layer(entries, mtime, name):
    """Writes a reproducible tar+gzip layer into CACHE; returns its descriptor info."""
    for path in list(entries):  # every parent directory has an entry
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            entries.setdefault(parent, entry(parent, tarfile.DIRTYPE, 0o755))
    raw = CACHE / f"{name}.tar"
    with open(raw, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(entries, key=lambda p: p.split("/")):
            ti, data = entries[path]
            ti.mtime, ti.uname, ti.gname = mtime, "", ""
            tf.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    gz = CACHE / f"{name}.tar.gz"
    with open(raw, "rb") as src, open(gz, "wb") as dst:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=dst, mtime=0) as z:
            shutil.copyfileobj(src, z, 1 << 20)
    info = {
        "digest": "sha256:" + sha256_file(gz),
        "size": gz.stat().st_size,
        "diff_id": "sha256:" + sha256_file(raw),
        "unpacked": raw.stat().st_size,
        "files": len(entries),
    }
    raw.unlink()
    return info


def base_layer():
    """The Debian layer, cached by input hash; returns (path, info)."""
    key_src = (
        json.dumps([PACKAGES, SUITE, ARCH, MIRROR, SECURITY_MIRROR]).encode() + Path(__file__).read_bytes()
    )
    key = hashlib.sha256(key_src).hexdigest()[:16]
    meta, gz = CACHE / f"base-{key}.json", CACHE / f"base-{key}.tar.gz"
    if not os.environ.get("IMAGE_REFRESH") and meta.exists() and gz.exists():
        info = json.loads(meta.read_text())
        if sha256_file(gz) == info["digest"].removeprefix("sha256:"):
            log(f"base layer: cached ({gz.relative_to(ROOT)})")
            return gz, info
    for old in CACHE.glob("base-*"):  # an older script's or package set's layer
        old.unlink()
    entries, certs, versions, status = {}, {}, {}, {}
    for deb in fetch_debs():
        control = read_deb(deb, entries, certs)
        fields = dict(
            line.split(": ", 1) for line in control.decode().splitlines() if ": " in line and line[0] != " "
        )
        versions[fields["Package"]] = fields["Version"]
        status[fields["Package"]] = control
    mtime = max(ti.mtime for ti, _ in entries.values())
    if len(certs) < 100:
        sys.exit(f"image: only {len(certs)} CA certificates in ca-certificates")
    # As update-ca-certificates: every certificate in C-locale name order, each ending in a newline.
    bundle = b"".join(c if c.endswith(b"\n") else c + b"\n" for _, c in sorted(certs.items()))
    for path, mode, data in [
        ("etc/passwd", 0o644, PASSWD.encode()),
        ("etc/group", 0o644, GROUP.encode()),
        ("etc/nsswitch.conf", 0o644, NSSWITCH.encode()),
        ("etc/ssl/certs/ca-certificates.crt", 0o644, bundle),
    ] + [(f"var/lib/dpkg/status.d/{p}", 0o644, c) for p, c in sorted(status.items())]:
        entries[path] = entry(path, tarfile.REGTYPE, mode, data)
    # tzdata's postinst would link the default zone; Debian's non-interactive default is UTC.
    entries["etc/localtime"] = entry(
        "etc/localtime", tarfile.SYMTYPE, 0o777, linkname="/usr/share/zoneinfo/Etc/UTC"
    )
    entries["home/nonroot"] = entry("home/nonroot", tarfile.DIRTYPE, 0o700, uid=NONROOT, gid=NONROOT)
    info = write_layer(entries, mtime, f"base-{key}")
    info.update(packages=versions, mtime=mtime)
    meta.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    log(f"base layer: built from {', '.join(f'{p} {v}' for p, v in versions.items())}")
    return gz, info


def app_layer(binary, epoch):
    """The layer with the binary, cached by the binary's hash and the timestamp."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF" or int.from_bytes(data[18:20], "little") != 62:
        sys.exit(f"image: {binary} is not an x86-64 ELF binary")
    key_src = (
        hashlib.sha256(data).hexdigest()
        + str(epoch)
        + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    meta, gz = CACHE / f"app-{key}.json", CACHE / f"app-{key}.tar.gz"
    if meta.exists() and gz.exists():
        return gz, json.loads(meta.read_text())
    for old in CACHE.glob("app-*"):  # one binary layer at a time: it is ~7 MiB
        old.unlink()
    info = write_layer({BINARY_PATH: entry(BINARY_PATH, tarfile.REGTYPE, 0o755, data)}, epoch, f"app-{key}")
    meta.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return gz, info


# ---- Image ----


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def descriptor(media_type, data=None, digest=None, size=None):
    if data is not None:
        digest, size = "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
    return {"mediaType": media_type, "digest": digest, "size": size}


def cargo_package():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    pkg, ws = cargo["package"], cargo.get("workspace", {}).get("package", {})
    return {
        k: ws[k] if isinstance(pkg.get(k), dict) else pkg[k]
        for k in ("name", "version", "license", "description")
    }


def tar_add(tf, name, data, mtime):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), 0o644, mtime
    tf.addfile(ti, io.BytesIO(data))


def main():
    binary = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "release" / "privatelink-operator"
    if not binary.is_file():
        sys.exit(f"image: {binary} does not exist (cargo build --release --bin privatelink-operator)")
    pkg = cargo_package()
    version = pkg["version"]
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or git("log", "-1", "--format=%ct") or 0)
    revision = os.environ.get("IMAGE_REVISION") or git("rev-parse", "HEAD") or "unknown"
    created = rfc3339(epoch)
    CACHE.mkdir(parents=True, exist_ok=True)

    base_gz, base = base_layer()
    app_gz, app = app_layer(binary, epoch)

    labels = {
        "org.opencontainers.image.title": pkg["name"],
        "org.opencontainers.image.description": pkg["description"],
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.licenses": pkg["license"],
    }
    packages = ", ".join(f"{p} {v}" for p, v in sorted(base["packages"].items()))
    config = canonical(
        {
            "created": created,
            "architecture": ARCH,
            "os": "linux",
            "config": {
                "User": f"{NONROOT}:{NONROOT}",
                "Env": [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                ],
                "Entrypoint": ["/" + BINARY_PATH],
                "Cmd": ["run"],
                "WorkingDir": "/home/nonroot",
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": [base["diff_id"], app["diff_id"]]},
            "history": [
                {"created": rfc3339(base["mtime"]), "created_by": f"debian {SUITE}: {packages}"},
                {"created": created, "created_by": f"COPY privatelink-operator /{BINARY_PATH}"},
            ],
        }
    )
    layers = [descriptor(MEDIA_LAYER, digest=i["digest"], size=i["size"]) for i in (base, app)]
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": descriptor(MEDIA_CONFIG, config),
            "layers": layers,
            "annotations": {
                k: v for k, v in labels.items() if k.endswith((".created", ".revision", ".version"))
            },
        }
    )
    ref = f"{REPOSITORY}:{version}"
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [
                dict(
                    descriptor(MEDIA_MANIFEST, manifest),
                    platform={"architecture": ARCH, "os": "linux"},
                    annotations={
                        "org.opencontainers.image.ref.name": version,
                        "io.containerd.image.name": ref,
                    },
                )
            ],
        }
    )
    config_digest = descriptor(MEDIA_CONFIG, config)["digest"]

    def blob(digest):
        return "blobs/sha256/" + digest.removeprefix("sha256:")

    docker = canonical(
        [
            {
                "Config": blob(config_digest),
                "RepoTags": [ref],
                "Layers": [blob(base["digest"]), blob(app["digest"])],
            }
        ]
    )
    blobs = {
        blob(config_digest): config,
        blob(descriptor(MEDIA_MANIFEST, manifest)["digest"]): manifest,
        blob(base["digest"]): base_gz,
        blob(app["digest"]): app_gz,
    }

    archive = OUT / f"{pkg['name']}-{version}.oci.tar"
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
        for d in ("blobs", "blobs/sha256"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, epoch
            tf.addfile(ti)
        for name in sorted(blobs):
            content = blobs[name]
            tar_add(tf, name, content if isinstance(content, bytes) else content.read_bytes(), epoch)
        tar_add(tf, "index.json", index, epoch)
        tar_add(tf, "manifest.json", docker, epoch)
        tar_add(tf, "oci-layout", canonical({"imageLayoutVersion": "1.0.0"}), epoch)
    tmp.replace(archive)
    digest = descriptor(MEDIA_MANIFEST, manifest)["digest"]
    (OUT / f"{pkg['name']}-{version}.digest").write_text(digest + "\n")

    def mib(n):
        return f"{n / (1 << 20):.1f} MiB"

    compressed = base["size"] + app["size"] + len(config) + len(manifest)
    print(f"image: {ref} ({digest})")
    print(f"image:   base  {mib(base['size'])} compressed, {mib(base['unpacked'])} unpacked ({packages})")
    print(f"image:   app   {mib(app['size'])} compressed, {mib(app['unpacked'])} unpacked (/{BINARY_PATH})")
    print(f"image:   total {mib(compressed)} compressed, {mib(base['unpacked'] + app['unpacked'])} unpacked")
    print(f"image: wrote {archive.relative_to(ROOT)} ({mib(archive.stat().st_size)})")


if __name__ == "__main__":
    main()
