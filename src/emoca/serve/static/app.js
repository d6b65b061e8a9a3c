// The emoca page: upload a photo, show its head in 3D (three.js), pose it with sliders in the browser.
// State for tests and users: document.body.dataset.state is empty | busy | ready | error;
// window.emoca.lastMs is the time from the upload's start to the viewer's first frame of the new head.
// Live mode (live.js): document.body.dataset.live is off | connecting | on, window.emoca.live its figures.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { record, startLive, stopLive } from "./live.js";

const $ = (id) => document.getElementById(id);
window.emoca = { lastMs: null };

function rendererName() {
  const gl = document.createElement("canvas").getContext("webgl2");
  const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
  return info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
}

const canvas = $("viewer");
// A software WebGL (SwiftShader: no GPU, as on a headless server) spends 100-150 ms a frame here on the
// multisampled, morphing head: there the page draws without multisampling, and live mode once an answer.
const software = /swiftshader|llvmpipe|software/i.test(rendererName());
document.body.dataset.webgl = software ? "software" : "hardware";
const renderer = new THREE.WebGLRenderer({ canvas, antialias: !software, preserveDrawingBuffer: true });
renderer.setPixelRatio(1);
renderer.setSize(480, 480, false);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0x555555);
const camera = new THREE.PerspectiveCamera(20, 1, 0.01, 10);
camera.position.set(0, 0, 1.2);
scene.add(new THREE.HemisphereLight(0xffffff, 0x444444, 2.0));
const key = new THREE.DirectionalLight(0xffffff, 1.5);
key.position.set(0.5, 1, 1);
scene.add(key);
const controls = new OrbitControls(camera, canvas);
let head = null;
// The photo's texture (view.glb's own material) or the plain geometry, switched by the "texture" box.
const plain = new THREE.MeshStandardMaterial({ color: 0xd8b8a0, roughness: 0.7 });
let textured = null;

function draw() { renderer.render(scene, camera); }
controls.addEventListener("change", draw);
draw();

function setState(state, message) {
  document.body.dataset.state = state;
  $("status").textContent = message || "";
  $("error").hidden = state !== "error";
  if (state === "error") $("error").textContent = message;
}

function morphMesh(root) {
  let found = null;
  root.traverse((node) => { if (node.isMesh && node.morphTargetDictionary) found = node; });
  return found;
}

async function showHead(url, sliders) {
  const gltf = await new GLTFLoader().loadAsync(url);
  stopLive();
  const mesh = place(gltf);
  buildSliders(mesh, sliders);
  draw();
}

// Put a loaded head in the scene (the previous one goes), framed; returns its morphing mesh.
function place(gltf) {
  if (head) scene.remove(head);
  head = gltf.scene;
  const mesh = morphMesh(head);
  textured = mesh.material && mesh.material.map ? mesh.material : null;
  if (textured) Object.assign(textured, { roughness: 0.8, metalness: 0 });
  $("texture").disabled = !textured;
  mesh.material = textured && $("texture").checked ? textured : plain;
  const box = new THREE.Box3().setFromObject(head);
  const centre = box.getCenter(new THREE.Vector3());
  head.position.sub(centre);
  controls.target.set(0, 0, 0);
  camera.position.set(0, 0, 0.75 * Math.max(...box.getSize(new THREE.Vector3()).toArray()) / Math.tan(0.17));
  camera.lookAt(0, 0, 0);
  scene.add(head);
  return mesh;
}

// view.glb holds the face as captured; a slider at v moves its shape by v minus the captured weight.
function buildSliders(mesh, sliders) {
  const box = $("sliders");
  box.replaceChildren();
  for (const [name, captured] of Object.entries(sliders)) {
    const index = mesh.morphTargetDictionary[name];
    if (index === undefined) continue;
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"),
      { type: "range", min: 0, max: 1, step: 0.01, value: captured, name });
    const value = Object.assign(document.createElement("span"), { textContent: Number(input.value).toFixed(2) });
    input.addEventListener("input", () => {
      mesh.morphTargetInfluences[index] = Number(input.value) - captured;
      value.textContent = Number(input.value).toFixed(2);
      draw();
    });
    label.append(name, input, value);
    box.append(label);
  }
}

function showNumbers(answer) {
  const top = Object.entries(answer.expression).sort((a, b) => b[1] - a[1]).slice(0, 10);
  $("bars").replaceChildren(...top.map(([name, weight]) => {
    const item = document.createElement("li");
    item.innerHTML = `<span class="name"></span><span class="bar"></span><span class="value"></span>`;
    item.querySelector(".name").textContent = name;
    item.querySelector(".bar").style.width = `${Math.round(weight * 150)}px`;
    item.querySelector(".value").textContent = weight.toFixed(3);
    return item;
  }));
  const say = (e) => e ? `${e.expression} (valence ${e.valence.toFixed(2)}, arousal ${e.arousal.toFixed(2)})` : "-";
  $("emotion").textContent = `${say(answer.emotion)}, from the 3D face's expression`;
  const t = answer.timings_ms;
  $("timings").textContent = `detect ${t.detect} ms, predict ${t.predict_per_face} ms, decode ${t.decode_per_face} ms, ` +
    `server total ${t.server_total} ms`;
  $("downloads").replaceChildren(...Object.entries(answer.files).filter(([n]) => !["overlay.png", "view.glb"].includes(n)).map(([name, url]) => {
    const item = document.createElement("li");
    item.append(Object.assign(document.createElement("a"), { href: url, textContent: name, download: name }));
    return item;
  }));
  $("overlay").src = answer.files["overlay.png"];
  $("overlay").hidden = false;
}

async function upload(file, name) {
  const started = performance.now();
  setState("busy", `Reconstructing ${name}...`);
  const form = new FormData();
  form.append("photo", file, name);
  try {
    const response = await fetch("api/reconstruct", { method: "POST", body: form });
    const answer = await response.json().catch(() => ({ error: `${name}: the server answered ${response.status}` }));
    if (!response.ok) throw new Error(answer.error || `${name}: the server answered ${response.status}`);
    showNumbers(answer);
    window.emoca.resultId = answer.id;
    await showHead(answer.files["view.glb"], answer.sliders);
    await new Promise((done) => requestAnimationFrame(() => done()));
    window.emoca.lastMs = performance.now() - started;
    setState("ready", `${name}: ready in ${(window.emoca.lastMs / 1000).toFixed(2)} s. Drag to turn the head.`);
  } catch (error) {
    setState("error", error.message);
  }
}

$("texture").addEventListener("change", () => {
  const mesh = head && morphMesh(head);
  if (!mesh || !textured) return;
  mesh.material = $("texture").checked ? textured : plain;
  draw();
});

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) upload(file, file.name);
  $("file").value = "";
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const file = event.dataTransfer.files[0];
  if (file) upload(file, file.name);
});

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {  // secure contexts: localhost, https
  $("webcam").hidden = false;
  $("live").hidden = false;
  $("live").addEventListener("click", async () => {
    if (document.body.dataset.live !== "off") { stopLive(); return; }
    try {
      if (!$("camera").srcObject) $("camera").srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      $("camera").hidden = false;
      await startLive($("camera"), window.emoca.resultId, { draw, place, software });
    } catch (error) {
      stopLive();
      setState("error", `live: ${error.message}`);
    }
  });
  $("webcam").addEventListener("click", async () => {
    try {
      $("camera").srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      $("camera").hidden = false;
      $("snap").hidden = false;
    } catch (error) {
      setState("error", `webcam: ${error.message}`);
    }
  });
  $("record").addEventListener("click", () => record($("record").textContent === "Record"));
  $("snap").addEventListener("click", () => {
    const video = $("camera");
    const still = Object.assign(document.createElement("canvas"), { width: video.videoWidth, height: video.videoHeight });
    still.getContext("2d").drawImage(video, 0, 0);
    still.toBlob((blob) => upload(blob, "webcam.png"), "image/png");
  });
}
