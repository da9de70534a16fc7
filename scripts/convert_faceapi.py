"""Port face-api's expression network to ONNX, checked against face-api itself.

Run from the repository root (needs node and npm, torch, onnx and onnxruntime; network access to the npm registry):

    python scripts/convert_faceapi.py [--tarball vladmandic-face-api-1.7.15.tgz] [--out models/faceapi]

1. `npm pack @vladmandic/face-api@1.7.15` in a temporary folder (or `--tarball`), never into the repository.
2. Reads `model/face_expression_model-weights_manifest.json` and the uint8-quantised `face_expression_model.bin`
   itself (value = q * scale + min) and rebuilds the network in PyTorch (TF "same" padding, NHWC weights).
3. Runs face-api's own FaceExpressionNet in node (its `dist/face-api.node-wasm.js` with the tfjs 4.22.0 it was
   built with, CPU backend; installed in the temporary folder) on reference crops: a MediaPipe face crop of
   `skimage.data.astronaut()`, its mirror image, tighter and looser crops, a grayscale and a low-resolution copy,
   and a synthetic pattern. The port must match face-api's logits, probabilities and embeddings within 1e-4.
4. Exports ONNX (input: RGB crops float32 in 0..255, NHWC; outputs: logits and embedding), checks it with
   onnxruntime against the same reference, and writes `face_expression.onnx`, `SOURCE.json` (source package,
   version, file, licence, both sha256) and `LICENSE` to `--out`, and the reference inputs and face-api's outputs
   to `tests/data/faceapi_reference.npz` for the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.faceapi.network import FACEAPI_CLASSES, INPUT_SIZE, face_crop  # noqa: E402
from core.faceapi_torch.net import FaceExpressionNet, FirstConv  # noqa: E402

PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"
TFJS_VERSION = "4.22.0"  # what face-api 1.7.15 was built with (its dist/tfjs.version.js)
MODEL_FILE = "model/face_expression_model.bin"
MANIFEST_FILE = "model/face_expression_model-weights_manifest.json"
TOLERANCE = 1e-4


# ---- tfjs weights ---------------------------------------------------------------------------------------------
def read_weights(package: Path) -> dict[str, np.ndarray]:
    """The manifest's tensors from the .bin, dequantised the way tfjs does (q * scale + min)."""
    manifest = json.loads((package / MANIFEST_FILE).read_text())
    if len(manifest) != 1 or manifest[0]["paths"] != [Path(MODEL_FILE).name]:
        raise SystemExit(f"unexpected manifest layout: {manifest[0]['paths']}")
    blob = (package / MODEL_FILE).read_bytes()
    out: dict[str, np.ndarray] = {}
    offset = 0
    for spec in manifest[0]["weights"]:
        shape = spec["shape"]
        count = int(np.prod(shape)) if shape else 1
        quant = spec.get("quantization")
        if quant:
            if quant["dtype"] != "uint8":
                raise SystemExit(f"{spec['name']}: unsupported quantisation {quant['dtype']}")
            raw = np.frombuffer(blob, dtype=np.uint8, count=count, offset=offset).astype(np.float32)
            values = raw * np.float32(quant["scale"]) + np.float32(quant["min"])
            offset += count
        else:
            if spec["dtype"] != "float32":
                raise SystemExit(f"{spec['name']}: unsupported dtype {spec['dtype']}")
            values = np.frombuffer(blob, dtype="<f4", count=count, offset=offset).astype(np.float32)
            offset += 4 * count
        out[spec["name"]] = values.reshape(shape)
    if offset != len(blob):
        raise SystemExit(f"read {offset} of {len(blob)} bytes: the manifest does not describe the file")
    return out


# ---- the network in PyTorch (core/faceapi_torch/net.py) ---------------------------------------------------------
def load_tfjs(net: FaceExpressionNet, w: dict[str, np.ndarray]) -> None:
    """Copy face-api's tfjs tensors into the torch network (HWIO -> OIHW)."""

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a))

    with torch.no_grad():
        for name in ("dense0", "dense1", "dense2", "dense3"):
            block = getattr(net, name)
            for i in range(4):
                prefix = f"{name}/conv{i}"
                conv = getattr(block, f"conv{i}")
                if isinstance(conv, FirstConv):
                    conv.conv.weight.copy_(t(w[f"{prefix}/filters"].transpose(3, 2, 0, 1)))
                    assert conv.conv.bias is not None
                    conv.conv.bias.copy_(t(w[f"{prefix}/bias"]))
                else:
                    conv.depthwise.weight.copy_(t(w[f"{prefix}/depthwise_filter"].transpose(2, 3, 0, 1)))
                    conv.pointwise.weight.copy_(t(w[f"{prefix}/pointwise_filter"].transpose(3, 2, 0, 1)))
                    conv.pointwise.bias.copy_(t(w[f"{prefix}/bias"]))
        net.fc.weight.copy_(t(w["fc/weights"].T))
        net.fc.bias.copy_(t(w["fc/bias"]))


# ---- reference inputs and face-api's own outputs -----------------------------------------------------------------
def reference_inputs() -> tuple[np.ndarray, list[str]]:
    """Crops face-api is run on: never the research data, only skimage's astronaut and variants of it."""
    import cv2
    from skimage import data

    from core.landmarks.extractor import LandmarkExtractor

    rgb = np.ascontiguousarray(data.astronaut())
    with LandmarkExtractor(mode="image") as extractor:
        faces = extractor.detect_still(rgb)
    if not faces:
        raise SystemExit("MediaPipe found no face in skimage.data.astronaut()")
    box = faces[0].bbox
    base = face_crop(rgb, box)
    gray = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    low = cv2.resize(cv2.resize(base, (28, 28), interpolation=cv2.INTER_AREA), (INPUT_SIZE, INPUT_SIZE))
    yy, xx = np.mgrid[0:INPUT_SIZE, 0:INPUT_SIZE].astype(np.float32)
    rng = np.random.default_rng(0)
    synthetic = np.stack([xx * 2.2, yy * 2.2, (xx + yy) * 1.1], axis=-1) + rng.normal(
        0, 12, (INPUT_SIZE, INPUT_SIZE, 3)
    )
    crops = [
        ("astronaut", base),
        ("astronaut_flipped", np.ascontiguousarray(base[:, ::-1])),
        ("astronaut_tight_0.8", face_crop(rgb, box, scale=0.8)),
        ("astronaut_loose_1.4", face_crop(rgb, box, scale=1.4)),
        ("astronaut_gray", gray),
        ("astronaut_lowres_28px", low),
        ("synthetic_gradient_noise", np.clip(synthetic, 0, 255).astype(np.uint8)),
    ]
    return np.stack([c for _, c in crops]).astype(np.uint8), [n for n, _ in crops]


def run_faceapi(package: Path, work: Path, inputs: np.ndarray) -> dict[str, Any]:
    """face-api's own outputs, from node with the tfjs version face-api was built with (CPU backend)."""
    node_dir = work / "node"
    node_dir.mkdir(exist_ok=True)
    if not (node_dir / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        (node_dir / "package.json").write_text('{"name": "faceapi-reference", "private": true}')
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                f"@tensorflow/tfjs@{TFJS_VERSION}",
                f"@tensorflow/tfjs-backend-wasm@{TFJS_VERSION}",
            ],
            cwd=node_dir,
            check=True,
        )
    inputs_path, out_path = work / "inputs.f32", work / "faceapi_out.json"
    inputs.astype(np.float32).tofile(inputs_path)
    env = {**os.environ, "NODE_PATH": str(node_dir / "node_modules")}
    subprocess.run(
        [
            "node",
            str(ROOT / "scripts" / "faceapi_reference.cjs"),
            str(package),
            str(inputs_path),
            str(len(inputs)),
            str(out_path),
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,  # tfjs prints a banner suggesting tfjs-node
    )
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unpack(tarball: Path | None, work: Path) -> tuple[Path, dict[str, Any]]:
    """The package folder (packed now unless a tarball is given) and its package.json, checked to be VERSION."""
    if tarball is None:
        name = (
            subprocess.run(
                ["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=work, check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        tarball = work / name
    with tarfile.open(tarball) as tar:
        tar.extractall(work / "pkg", filter="data")
    package = work / "pkg" / "package"
    meta: dict[str, Any] = json.loads((package / "package.json").read_text())
    if (meta["name"], meta["version"]) != (PACKAGE, VERSION):
        raise SystemExit(f"expected {PACKAGE}@{VERSION}, the tarball holds {meta['name']}@{meta['version']}")
    return package, meta


def torch_diffs(net: FaceExpressionNet, inputs: np.ndarray, ref: dict[str, np.ndarray]) -> dict[str, float]:
    """The torch port's largest differences from face-api's logits, probabilities and embeddings."""
    with torch.no_grad():
        logits, emb = net(torch.from_numpy(inputs.astype(np.float32)))
    torch_proba = torch.softmax(logits, dim=1).numpy()
    return {
        "torch_logits": _max_diff(logits.numpy(), ref["logits"]),
        "torch_probabilities": _max_diff(torch_proba, ref["probabilities"]),
        "torch_embedding": _max_diff(emb.numpy(), ref["embedding"]),
    }


def export_onnx(net: FaceExpressionNet, inputs: np.ndarray, ref: dict[str, np.ndarray], out: Path) -> dict[str, float]:
    """Write `face_expression.onnx` to `out`; onnxruntime's largest differences from face-api on the same inputs."""
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "face_expression.onnx"
    torch.onnx.export(
        net,
        (torch.zeros(1, INPUT_SIZE, INPUT_SIZE, 3),),
        str(onnx_path),
        dynamo=False,
        input_names=["crops"],
        output_names=["logits", "embedding"],
        dynamic_axes={"crops": {0: "n"}, "logits": {0: "n"}, "embedding": {0: "n"}},
        opset_version=17,
    )
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_logits, ort_emb = session.run(None, {"crops": inputs.astype(np.float32)})
    ort_proba = torch.softmax(torch.from_numpy(ort_logits), dim=1).numpy()
    return {
        "onnx_logits": _max_diff(ort_logits, ref["logits"]),
        "onnx_probabilities": _max_diff(ort_proba, ref["probabilities"]),
        "onnx_embedding": _max_diff(ort_emb, ref["embedding"]),
    }


def source_record(
    package: Path,
    meta: dict[str, Any],
    onnx_path: Path,
    reference: dict[str, Any],
    n_crops: int,
    diffs: dict[str, float],
) -> dict[str, Any]:
    """SOURCE.json: where the weights came from, their licence and hashes, and how the port was checked."""
    import onnxruntime as ort

    return {
        "package": PACKAGE,
        "version": VERSION,
        "file": MODEL_FILE,
        "manifest": MANIFEST_FILE,
        "licence": meta.get("license", "MIT"),
        "licence_file": "LICENSE (copied from the package)",
        "homepage": "https://github.com/vladmandic/face-api",
        "source_sha256": sha256(package / MODEL_FILE),
        "manifest_sha256": sha256(package / MANIFEST_FILE),
        "onnx_file": onnx_path.name,
        "onnx_sha256": sha256(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size,
        "classes": list(FACEAPI_CLASSES),
        "input": "crops: float32 (n, 112, 112, 3) RGB in 0..255 (face-api's mean-RGB normalisation is inside)",
        "outputs": ["logits: float32 (n, 7) in the classes' order", "embedding: float32 (n, 256)"],
        "checked_against": f"face-api {VERSION} in node (tfjs {reference['tfjs']}, {reference['backend']} "
        f"backend) on {n_crops} reference crops; max abs differences {diffs}",
        "converted_with": {"torch": torch.__version__, "onnxruntime": ort.__version__},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, help="an `npm pack` of the package (default: packed now)")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "faceapi")
    parser.add_argument("--reference", type=Path, default=ROOT / "tests" / "data" / "faceapi_reference.npz")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="faceapi-convert-") as tmp:
        work = Path(tmp)
        package, meta = unpack(args.tarball, work)
        net = FaceExpressionNet().eval()
        load_tfjs(net, read_weights(package))
        inputs, names = reference_inputs()
        reference = run_faceapi(package, work, inputs)
        ref = {key: np.asarray(reference[key], np.float32) for key in ("logits", "probabilities", "embedding")}
        diffs = torch_diffs(net, inputs, ref)
        diffs |= export_onnx(net, inputs, ref, args.out)
        onnx_path = args.out / "face_expression.onnx"
        for key, value in diffs.items():
            print(f"max |{key} - face-api| = {value:.2e}")
        bad = {k: v for k, v in diffs.items() if v > TOLERANCE}
        if bad:
            onnx_path.unlink()
            raise SystemExit(f"the port does not reproduce face-api within {TOLERANCE}: {bad}")

        (args.out / "LICENSE").write_text((package / "LICENSE").read_text())
        source = source_record(package, meta, onnx_path, reference, len(names), diffs)
        (args.out / "SOURCE.json").write_text(json.dumps(source, indent=2) + "\n")
        args.reference.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            args.reference,
            inputs=inputs,
            names=np.asarray(names),
            logits=ref["logits"],
            probabilities=ref["probabilities"],
            embedding=ref["embedding"],
            source=np.asarray(f"{PACKAGE}@{VERSION} {MODEL_FILE}, tfjs {reference['tfjs']} {reference['backend']}"),
        )
        print(f"wrote {onnx_path} (sha256 {source['onnx_sha256']}), {args.out / 'SOURCE.json'}, {args.reference}")
        print(f"source {MODEL_FILE} sha256 {source['source_sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
