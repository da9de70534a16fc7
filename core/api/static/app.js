// Camera on the left; about once a second a JPEG frame goes to /api/predict/stream, and the latest emotion,
// its confidence and its artwork show on the right. Plain JS, no build step.
"use strict";

const INTERVAL_MS = 1000;
const MAX_SIDE = 640;
const $ = (id) => document.getElementById(id);
let running = true;
let timer = null;

function setStatus(text) { $("status").textContent = text; }

// The API key, when the server requires one: typed by the user, kept in this tab's sessionStorage only.
const KEY_STORE = "expression-studio-api-key";
let apiKey = sessionStorage.getItem(KEY_STORE) || "";

function askForKey(message) {
  $("keyform").hidden = false;
  if (message) setStatus(message);
  $("apikey").focus();
}

$("keyform").addEventListener("submit", (event) => {
  event.preventDefault();
  apiKey = $("apikey").value.trim();
  $("apikey").value = "";
  if (apiKey) sessionStorage.setItem(KEY_STORE, apiKey); else sessionStorage.removeItem(KEY_STORE);
  $("keyform").hidden = true;
  setStatus(apiKey ? "key set; sending frames" : "no key set");
});

async function loadHealth() {
  try {
    const res = await fetch("/health");
    const body = await res.json();
    $("model").textContent = body.model_id ? `model ${body.model_id} (${body.model_kind})` : (body.detail || "no model");
    if (body.api_key_required && !apiKey) askForKey("enter an API key to start");
  } catch (err) {
    $("model").textContent = "the API is unreachable";
  }
}

function grabFrame() {
  const video = $("video");
  if (!video.videoWidth) return null;
  const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  const canvas = $("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.85);
}

function showResult(body) {
  const face = body.faces && body.faces[0];
  if (!face) {
    $("emotion").textContent = "no face";
    $("confidence").textContent = "";
    $("faces").textContent = "";
    $("artwork").hidden = true;
    return;
  }
  $("emotion").textContent = face.emotion;
  $("confidence").textContent = `${Math.round(face.confidence * 100)}% confident`;
  $("faces").textContent = body.faces.length > 1 ? `${body.faces.length} faces; showing the largest` : "";
  if (body.artwork_url) {
    $("artwork").src = body.artwork_url;
    $("artwork").alt = `${face.emotion} artwork`;
    $("artwork").hidden = false;
  }
}

async function tick() {
  if (!running) return;
  // While the key form is open, no frames go out: each would only earn another 401.
  const image = $("keyform").hidden ? grabFrame() : null;
  if (image) {
    try {
      const headers = { "Content-Type": "application/json" };
      if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
      const res = await fetch("/api/predict/stream", { method: "POST", headers, body: JSON.stringify({ image }) });
      const body = await res.json();
      if (res.ok) {
        showResult(body);
        setStatus(`analysed in ${Math.round(body.elapsed_ms)} ms`);
      } else if (res.status === 401) {
        apiKey = "";
        sessionStorage.removeItem(KEY_STORE);
        askForKey(body.detail || "this server needs an API key");
      } else {
        setStatus(body.detail || `error ${res.status}`);
      }
    } catch (err) {
      setStatus("the server did not answer; retrying");
    }
  }
  // Schedule after the answer, so a slow server never gets a pile-up of frames.
  if (running) timer = setTimeout(tick, INTERVAL_MS);
}

async function start() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("this browser gives no camera here: open the page over HTTPS or on localhost");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    $("video").srcObject = stream;
    setStatus("camera on");
    timer = setTimeout(tick, 300);
  } catch (err) {
    setStatus(`camera unavailable: ${err.name}`);
  }
}

$("toggle").addEventListener("click", () => {
  running = !running;
  $("toggle").textContent = running ? "Stop" : "Start";
  if (running) { tick(); } else { clearTimeout(timer); setStatus("paused"); }
});

loadHealth();
start();
