// Runs face-api's own FaceExpressionNet (tfjs, CPU backend) on crops written by scripts/convert_faceapi.py.
// Usage: node faceapi_reference.cjs PACKAGE_DIR INPUT.f32 N OUTPUT.json
// INPUT.f32: N x 112 x 112 x 3 float32 RGB in 0..255 (what face-api's toNetInput makes of a 112x112 image).
const path = require('path');
const fs = require('fs');
const [pkgDir, inputPath, nStr, outPath] = process.argv.slice(2);
const faceapi = require(path.join(pkgDir, 'dist', 'face-api.node-wasm.js'));
const tf = faceapi.tf;

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.faceExpressionNet.loadFromDisk(path.join(pkgDir, 'model'));
  const n = parseInt(nStr, 10);
  const buf = fs.readFileSync(inputPath);
  const data = new Float32Array(buf.buffer, buf.byteOffset, n * 112 * 112 * 3);
  const net = faceapi.nets.faceExpressionNet;
  const out = { backend: tf.getBackend(), tfjs: tf.version_core, probabilities: [], logits: [], embedding: [] };
  for (let i = 0; i < n; i += 1) {
    // One Tensor3D per face: face-api's own input path (toNetInput -> toBatchTensor(112) -> normalize).
    const size = 112 * 112 * 3;
    const image = tf.tensor3d(data.subarray(i * size, (i + 1) * size), [112, 112, 3]);
    const probs = await net.forward(image);
    const emb = net.faceFeatureExtractor.forwardInput(await faceapi.toNetInput(image));
    const logits = net.runNet(emb);
    out.probabilities.push(Array.from(await probs.data()));
    out.logits.push(Array.from(await logits.data()));
    out.embedding.push(Array.from(await emb.data()));
    tf.dispose([image, probs, emb, logits]);
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
