#!/usr/bin/env python3
"""Check the image that `make image` wrote, and run the binary from the image's own root filesystem.

    python3 tests/image/test-image.py [ARCHIVE]      (make image-test)

ARCHIVE defaults to target/image/privatelink-operator-<Cargo.toml version>.oci.tar. Checks the OCI layout
(every blob's digest and size, diff_ids, Docker's manifest.json), the config (user 65532, entrypoint, cmd,
env, labels), the layers (owners, no setuid, no symlink leaving the image), then unpacks the layers in
order into a temporary directory and runs, with only the image's environment, as the image's user, on a
read-only bind mount of that directory when mounts are permitted:

    chroot <rootfs> /lib64/ld-linux-x86-64.so.2 --list /usr/bin/privatelink-operator   every library resolved
    chroot <rootfs> /usr/bin/privatelink-operator --version                              = Cargo.toml version
    chroot <rootfs> /usr/bin/privatelink-operator crd                                   the CRDs as YAML

As root it chroots directly; otherwise inside `unshare -r` (then as uid 0 of that user namespace).
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = "usr/bin/privatelink-operator"
NONROOT = 65532
CRD = "vpcendpointservices.privatelink.alicloud.dev"

passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}")
    return ok


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def resolves(rootfs, path):
    """Whether path (relative to rootfs) exists, following symlinks as the image would (rootfs as /)."""
    todo, parts, hops = path.split("/"), [], 0
    while todo:
        name = todo.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            parts = parts[:-1]
            continue
        here = rootfs.joinpath(*parts, name)
        if here.is_symlink():
            hops += 1
            if hops > 40:
                return False
            target = os.readlink(here)
            todo = target.split("/") + todo
            if target.startswith("/"):
                parts = []
            continue
        if not here.exists():
            return False
        parts.append(name)
    return True


def run_in_image(rootfs, args, env, readonly):
    """Runs args inside rootfs; returns the CompletedProcess."""
    root = os.geteuid() == 0
    chroot = ["chroot"] + ([f"--userspec={NONROOT}:{NONROOT}"] if root else []) + [str(rootfs)] + args
    cmd = ["env", "-i", *env] + chroot
    if readonly:
        mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        cmd = ["unshare", "-m"] + ([] if root else ["-r"]) + ["sh", "-c", mount, "sh", str(rootfs)] + cmd
    elif not root:
        cmd = ["unshare", "-r"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def main():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
    version, license_ = cargo["version"], cargo["license"]
    archive = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else ROOT / f"target/image/privatelink-operator-{version}.oci.tar"
    )
    if not archive.is_file():
        sys.exit(f"image-test: {archive} is missing (make image)")
    print(f"image-test: {archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive}")

    # ---- The OCI layout ----
    with tarfile.open(archive) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isreg()}
    check("oci-layout", json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"})
    blobs = {n.removeprefix("blobs/sha256/"): d for n, d in files.items() if n.startswith("blobs/sha256/")}
    bad = [n for n, d in blobs.items() if sha256(d) != "sha256:" + n]
    check("every blob matches its digest", not bad, ", ".join(bad))

    def blob(desc):
        data = blobs.get(desc["digest"].removeprefix("sha256:"))
        if data is None or len(data) != desc["size"]:
            raise SystemExit(f"image-test: FAIL blob {desc['digest']} missing or of the wrong size")
        return data

    index = json.loads(files["index.json"])
    check("index has one manifest", len(index["manifests"]) == 1)
    desc = index["manifests"][0]
    check("index: platform linux/amd64", desc.get("platform") == {"architecture": "amd64", "os": "linux"})
    check(
        "index: ref.name is the version",
        desc.get("annotations", {}).get("org.opencontainers.image.ref.name") == version,
        str(desc.get("annotations")),
    )
    manifest = json.loads(blob(desc))
    check("manifest media type", manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json")
    config = json.loads(blob(manifest["config"]))
    layers = [blob(layer) for layer in manifest["layers"]]
    unpacked = [gzip.decompress(layer) for layer in layers]
    check(
        "config diff_ids are the layers' uncompressed digests",
        config["rootfs"]["diff_ids"] == [sha256(u) for u in unpacked],
    )
    docker = json.loads(files["manifest.json"])
    check(
        "manifest.json (docker load) names the same config and layers",
        docker[0]["Config"] == "blobs/sha256/" + manifest["config"]["digest"].removeprefix("sha256:")
        and docker[0]["Layers"]
        == ["blobs/sha256/" + d["digest"].removeprefix("sha256:") for d in manifest["layers"]]
        and docker[0]["RepoTags"][0].endswith(f"/privatelink-operator:{version}"),
    )

    # ---- The config ----
    c = config["config"]
    check("config: os/architecture", (config["os"], config["architecture"]) == ("linux", "amd64"))
    check("config: User 65532:65532", c.get("User") == f"{NONROOT}:{NONROOT}", str(c.get("User")))
    check("config: Entrypoint", c.get("Entrypoint") == ["/" + BINARY], str(c.get("Entrypoint")))
    check("config: Cmd", c.get("Cmd") == ["run"], str(c.get("Cmd")))
    check("config: Env SSL_CERT_FILE", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" in c.get("Env", []))
    labels = c.get("Labels", {})
    want = {
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.licenses": license_,
        "org.opencontainers.image.title": "privatelink-operator",
    }
    check("labels: version, licenses, title", all(labels.get(k) == v for k, v in want.items()), str(labels))
    check(
        "labels: source, revision, description, created",
        labels.get("org.opencontainers.image.source", "").startswith("https://github.com/")
        and all(labels.get(f"org.opencontainers.image.{k}") for k in ("revision", "description", "created")),
        str(labels),
    )

    # ---- The layers ----
    members = []
    for u in unpacked:
        with tarfile.open(fileobj=io.BytesIO(u)) as tf:
            members += tf.getmembers()
    names = [m.name for m in members]
    check("layers: relative paths only", not [n for n in names if n.startswith("/") or ".." in n.split("/")])
    odd_owner = [m.name for m in members if (m.uid, m.gid) != (0, 0) and m.name.rstrip("/") != "home/nonroot"]
    check("layers: owned by 0:0 (but /home/nonroot)", not odd_owner, ", ".join(odd_owner[:5]))
    setid = [m.name for m in members if m.mode & 0o6000 and not m.isdir()]
    check("layers: no setuid/setgid files", not setid, ", ".join(setid))
    binary = [m for m in members if m.name == BINARY]
    check("layers: /usr/bin/privatelink-operator, mode 0755", len(binary) == 1 and binary[0].mode == 0o755)
    check("layers: /etc/passwd has nonroot 65532", any(m.name == "etc/passwd" for m in members))

    # ---- Run from the image's own root filesystem ----
    with tempfile.TemporaryDirectory(prefix="image-test-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        rootfs.mkdir()
        for layer in layers:  # in order; whiteouts are not needed (two layers, no deletions)
            subprocess.run(["tar", "-xzf", "-", "-C", str(rootfs)], input=layer, check=True)
        passwd = (rootfs / "etc/passwd").read_text()
        check("rootfs: nonroot in /etc/passwd", f"nonroot:x:{NONROOT}:{NONROOT}:" in passwd)
        dangling = [
            f"{p.relative_to(rootfs)} -> {os.readlink(p)}"
            for p in rootfs.rglob("*")
            if p.is_symlink() and not resolves(rootfs, str(p.relative_to(rootfs)))
        ]
        check("rootfs: every symlink resolves inside the image", not dangling, ", ".join(dangling[:5]))

        env = c.get("Env", [])
        readonly = run_in_image(rootfs, ["/" + BINARY, "--version"], env, True).returncode == 0
        how = "read-only bind mount" if readonly else "plain chroot (mounts not permitted here)"
        as_ = f"uid {NONROOT}" if os.geteuid() == 0 else "uid 0 of a user namespace"
        print(f"image-test: running from the image's rootfs: {how}, as {as_}")

        ld = run_in_image(rootfs, ["/lib64/ld-linux-x86-64.so.2", "--list", "/" + BINARY], env, readonly)
        check(
            "ld.so --list: every library found in the image",
            ld.returncode == 0 and "not found" not in ld.stdout and "libc.so.6" in ld.stdout,
            ld.stdout + ld.stderr,
        )
        out = run_in_image(rootfs, ["/" + BINARY, "--version"], env, readonly)
        check(
            f"privatelink-operator --version = {version}",
            out.returncode == 0 and out.stdout.strip() == f"privatelink-operator {version}",
            f"exit {out.returncode}: {out.stdout}{out.stderr}",
        )
        crd = run_in_image(rootfs, ["/" + BINARY, "crd"], env, readonly)
        lines = crd.stdout.splitlines()
        check(
            "privatelink-operator crd prints both CRDs as YAML",
            crd.returncode == 0
            and lines[:1] == ["apiVersion: apiextensions.k8s.io/v1"]
            and lines.count("kind: CustomResourceDefinition") == 2
            and f"  name: {CRD}" in lines
            and "  name: vpcendpoints.privatelink.alicloud.dev" in lines,
            f"exit {crd.returncode}: {crd.stdout[:300]}{crd.stderr}",
        )

    print(f"image-test: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
