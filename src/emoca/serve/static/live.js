// Live mode: the webcam's frames go to the server over a WebSocket (/api/live, see emoca/serve/live.py)
// at the rate it answers (at most `in_flight` unanswered frames; the camera's other frames are dropped);
// each answer's morph-target weights and head rotation are eased towards at display rate (on a software
// WebGL, where a frame costs a large share of the CPU the server needs, the head is drawn once an answer).
// Figures for users and tests: window.emoca.live = {answers, fps, latencyMs (median of the last 30, from a
// frame's capture to its answer), serverMs (median of the last 30 answers' time on the server, decoding to
// answer), weights (the last answer's), changes (answers whose weights differed
// from the one before), take (the last take's files)}; document.body.dataset.live is off | connecting | on.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";

const $ = (id) => document.getElementById(id);
const EASE_MS = 60;  // the displayed weights close 1 - 1/e of the gap to the last answer in this time
const MAX_SIDE = 640;  // frames are sent at most this many pixels wide or high (JPEG, quality 0.8)

let live = null;  // the running stream's state
document.body.dataset.live = "off";

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
}

export async function startLive(video, resultId, viewer) {
  stopLive();
  document.body.dataset.live = "connecting";
  $("live").textContent = "Stop live";
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live${resultId ? `?head=${resultId}` : ""}`);
  socket.binaryType = "arraybuffer";
  const state = {
    socket, video, viewer, mesh: null, names: [], index: [], target: null, shown: null,
    rotation: new THREE.Quaternion(), inFlight: 0, limit: 2, answerTimes: [], latencies: [], serverTimes: [],
    frame: null, stats: { answers: 0, fps: 0, latencyMs: null, serverMs: null, weights: null, changes: 0, take: null },
  };
  live = state;
  window.emoca.live = state.stats;
  socket.addEventListener("message", (event) => answer(state, JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    if (live !== state) return;
    if (event.code !== 1000 && event.code !== 1005) $("live-status").textContent = `live: closed (${event.reason || event.code})`;
    stopLive();
  });
  $("record").hidden = false;
  $("live-status").hidden = false;
}

export function stopLive() {
  if (!live) return;
  const state = live;
  live = null;
  if (state.socket.readyState <= WebSocket.OPEN) state.socket.close(1000);
  cancelAnimationFrame(state.frame);
  document.body.dataset.live = "off";
  $("live").textContent = "Go live";
  $("record").hidden = true;
  $("record").textContent = "Record";
}

async function answer(state, message) {
  if (message.type === "hello") {
    state.names = message.names;
    state.limit = message.limits.in_flight;
    const gltf = await new GLTFLoader().loadAsync(message.head);
    if (live !== state) return;
    state.mesh = state.viewer.place(gltf);
    state.index = state.names.map((name) => state.mesh.morphTargetDictionary[name]);
    if (state.viewer.software) state.morph = cpuMorph(state.mesh);
    document.body.dataset.live = "on";
    state.last = performance.now();
    tick(state);
  } else if (message.type === "frame") {
    state.inFlight = Math.max(0, state.inFlight - 1);
    pump(state);
    const now = performance.now();
    state.answerTimes = [...state.answerTimes.filter((t) => now - t < 1000), now];
    state.latencies = [...state.latencies.slice(-29), now - message.t];
    state.serverTimes = [...state.serverTimes.slice(-29), message.ms.total];
    const stats = state.stats;
    stats.answers += 1;
    stats.fps = state.answerTimes.length;
    stats.latencyMs = median(state.latencies);
    stats.serverMs = median(state.serverTimes);
    if (message.found) {
      if (stats.weights && message.weights.some((w, i) => w !== stats.weights[i])) stats.changes += 1;
      stats.weights = message.weights;
      state.target = message.weights;
      const [x, y, z] = message.rotation;
      const angle = Math.hypot(x, y, z);
      state.rotationTarget = angle > 1e-9
        ? new THREE.Quaternion().setFromAxisAngle(new THREE.Vector3(x / angle, y / angle, z / angle), angle)
        : new THREE.Quaternion();
      if (state.viewer.software) show(state, 1);
      const e = message.emotion;
      $("emotion").textContent = e ? `${e.expression} (valence ${e.valence.toFixed(2)}, arousal ${e.arousal.toFixed(2)}), live from the 3D face` : "-";
    }
    $("live-status").textContent = `live: ${stats.fps} answers/s, ${Math.round(stats.latencyMs)} ms from capture to answer` +
      (message.found ? "" : " (no face)");
  } else if (message.type === "take") {
    state.stats.take = message.files;
    $("downloads").replaceChildren(...Object.entries(message.files).map(([name, url]) => {
      const item = document.createElement("li");
      item.append(Object.assign(document.createElement("a"), { href: url, textContent: name, download: name }),
        ` (${message.frames} frames, ${message.seconds} s)`);
      return item;
    }));
  } else if (message.type === "error") {
    state.inFlight = message.t === undefined ? state.inFlight : Math.max(0, state.inFlight - 1);
    $("live-status").textContent = message.error;
  }
}

// Send the camera's current frame if the server has room (called each display frame and on each answer).
function pump(state) {
  if (state.inFlight < state.limit && state.video.readyState >= 2 && state.socket.readyState === WebSocket.OPEN) {
    state.inFlight += 1;
    send(state, performance.now());
  }
}

// One display frame: send a camera frame if the server has room, ease the head towards the last answer.
function tick(state) {
  if (live !== state) return;
  const now = performance.now();
  pump(state);
  if (!state.viewer.software) show(state, 1 - Math.exp(-(now - state.last) / EASE_MS));
  state.last = now;
  state.frame = requestAnimationFrame(() => tick(state));
}

// Move the shown weights and rotation a fraction `k` of the way to the last answer's, and draw.
function show(state, k) {
  if (!state.target || !state.mesh) return;
  state.shown = state.shown || state.target.slice();
  const influences = state.morph ? new Float32Array(state.morph.count) : state.mesh.morphTargetInfluences;
  state.index.forEach((index, i) => {
    state.shown[i] += (state.target[i] - state.shown[i]) * k;
    if (index !== undefined) influences[index] = state.shown[i];
  });
  if (state.morph) state.morph.apply(influences);
  state.mesh.quaternion.slerp(state.rotationTarget, k);
  state.viewer.draw();
}

// On a software WebGL the vertex shader's 57 morph targets cost the CPU more than the server's answer
// (6-8 answers/s against 11 without them here): there the weights are applied in JavaScript, to the
// targets that move, and the mesh is drawn as a plain one (normals recomputed).
function cpuMorph(mesh) {
  const geometry = mesh.geometry;
  const position = geometry.attributes.position;
  const base = position.array.slice();
  const deltas = geometry.morphAttributes.position.map((attribute) => attribute.array);
  geometry.morphAttributes = {};
  mesh.morphTargetInfluences = undefined;
  mesh.frustumCulled = false;
  const apply = (influences) => {
    const out = position.array;
    out.set(base);
    influences.forEach((weight, target) => {
      if (Math.abs(weight) < 0.005) return;
      const delta = deltas[target];
      for (let j = 0; j < out.length; j++) out[j] += weight * delta[j];
    });
    position.needsUpdate = true;
    geometry.computeVertexNormals();
  };
  return { count: deltas.length, apply };
}

// toDataURL encodes at once; Chromium runs toBlob and convertToBlob in idle time, which a page drawing
// every display frame hardly has (frames waited 1.3-2 s for their JPEG).
function send(state, captured) {
  const video = state.video;
  const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  const canvas = state.canvas || (state.canvas = document.createElement("canvas"));
  [canvas.width, canvas.height] = [Math.round(video.videoWidth * scale), Math.round(video.videoHeight * scale)];
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  const jpeg = atob(canvas.toDataURL("image/jpeg", 0.8).split(",")[1]);
  const message = new Uint8Array(8 + jpeg.length);
  new DataView(message.buffer).setFloat64(0, captured, true);
  for (let i = 0; i < jpeg.length; i++) message[8 + i] = jpeg.charCodeAt(i);
  state.socket.send(message);
}

export function record(on) {
  if (!live || live.socket.readyState !== WebSocket.OPEN) return;
  live.socket.send(JSON.stringify({ record: on }));
  $("record").textContent = on ? "Stop recording" : "Record";
}
