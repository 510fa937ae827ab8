// liveview.js: the live view page of `framering run --http` (docs/http-api.md, "The live view
// page"). Plain modern JavaScript, no framework, no build step.
//
//   /api/v1/rings/{ring}/live (WebSocket) ─► binary message: 64-byte header + pixels
//       draw(): contrast stretch + colour map into an ImageData, putImageData, then "ack"
//       (the server keeps at most two frames unacknowledged, so a slow page gets fewer frames,
//       never a backlog)
//   /api/v1/status, /api/v1/recordings (every second) ─► the tables
//   POST /api/v1/recordings, POST /api/v1/recordings/{id}/stop ◄─ the recording buttons
//
// The token (runs off loopback): `?token=...` in the page's address once, or the prompt; kept in
// sessionStorage (this tab only), sent as "Authorization: Bearer" to the API and as `?token=` to
// the WebSocket (a browser cannot add headers to a WebSocket).
//
// For tests and benchmarks, window.framering exposes the last frame drawn (its header, the
// contrast limits used, its raw samples) and per-frame latencies.

const MAGIC = 0x564c5246; // "FRLV", little-endian
const HEADER_BYTES = 64;
const TOKEN_KEY = "framering.token";
const LATENCIES_KEPT = 100000;

// ---- the API ---------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

// A token given in the page's address is kept, then taken out of the address bar and history.
function takeTokenFromAddress() {
  const url = new URL(location.href);
  const given = url.searchParams.get("token");
  if (given === null) return;
  sessionStorage.setItem(TOKEN_KEY, given);
  url.searchParams.delete("token");
  history.replaceState(null, "", url);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { ...(options.headers ?? {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(path, { ...options, headers, cache: "no-store" });
  let body = null;
  try {
    body = await reply.json();
  } catch {
    body = null;
  }
  if (reply.status === 401) $("token-form").hidden = false;
  if (!reply.ok) throw new ApiError(reply.status, body?.error ?? `${reply.status} ${reply.statusText}`);
  return body;
}

function $(id) {
  return document.getElementById(id);
}

function showMessage(text) {
  $("message").textContent = text;
}

// ---- colour maps -------------------------------------------------------------------------------

// matplotlib's viridis and inferno (CC0), 33 of their 256 colours (every 8th: the tables OpenCV
// and `framering display` use), linearly interpolated in between: within 2/255 of the full tables.
const CONTROL_POINTS = {
  viridis:
    "440154 470d60 48186a 482374 472d7b 453781 424086 3e4989 3b528b 375b8d 33638d 2f6b8e 2c728e 297a8e 26828e 23898e " +
    "21918c 1f978b 1f9f88 21a685 27ad81 31b57b 3dbc74 4cc26c 5cc863 6ece58 81d34d 95d840 aadc32 c0df25 d5e21a eae51a fde725",
  inferno:
    "000004 040312 0b0724 150b37 210c4a 2f0a5b 3d0965 4a0c6b 57106e 64156e 71196e 7d1e6d 8a226a 972766 a32c61 b0315b " +
    "bc3754 c63d4d d04545 da4e3c e35933 eb6429 f1711f f67e14 f98c0a fb9b06 fcaa0f fbba1f f9c932 f5d949 f2e865 f3f586 fcffa4",
};

// 256 colours as 0xAABBGGRR (the byte order of ImageData on little-endian machines).
function colourTable(name) {
  const table = new Uint32Array(256);
  const points = CONTROL_POINTS[name]?.split(" ").map((hex) => [0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16)));
  for (let i = 0; i < 256; ++i) {
    let rgb = [i, i, i];
    if (points) {
      const x = (i / 255) * (points.length - 1);
      const j = Math.min(Math.floor(x), points.length - 2);
      const f = x - j;
      rgb = [0, 1, 2].map((k) => Math.round(points[j][k] * (1 - f) + points[j + 1][k] * f));
    }
    table[i] = ((0xff << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]) >>> 0;
  }
  return table;
}
const COLOUR_TABLES = Object.fromEntries(["grey", "viridis", "inferno"].map((n) => [n, colourTable(n)]));

// The 8-bit level of `value` between `lo` (black) and `hi` (white). The exact rule, which the
// browser test repeats: floor(clamp((v - lo) / (hi - lo), 0, 1) * 255 + 0.5).
function level(value, lo, hi) {
  const t = (value - lo) / (hi - lo);
  return Math.floor(Math.min(Math.max(t, 0), 1) * 255 + 0.5);
}

// ---- frames ------------------------------------------------------------------------------------

// The header of a live-view message (docs/http-api.md, "Message format").
function parseHeader(buffer) {
  const dv = new DataView(buffer);
  if (buffer.byteLength < HEADER_BYTES || dv.getUint32(0, true) !== MAGIC) {
    throw new Error("not a framering live-view message (magic)");
  }
  const h = {
    version: dv.getUint16(4, true),
    headerBytes: dv.getUint16(6, true),
    sequence: Number(dv.getBigUint64(8, true)),
    timestampNs: dv.getBigUint64(16, true),
    ageNs: dv.getBigUint64(24, true),
    sendRealtimeNs: dv.getBigUint64(32, true),
    width: dv.getUint32(40, true),
    height: dv.getUint32(44, true),
    pixelFormat: dv.getUint32(48, true),
    samplesPerPixel: dv.getUint8(52),
    bytesPerSample: dv.getUint8(53),
    significantBits: dv.getUint8(54),
    binning: dv.getUint8(55),
    sendMonotonicNs: dv.getBigUint64(56, true),
  };
  const count = h.width * h.height * h.samplesPerPixel;
  if (buffer.byteLength !== h.headerBytes + count * h.bytesPerSample) {
    throw new Error(`message of ${buffer.byteLength} bytes for a ${h.width}x${h.height} frame`);
  }
  h.samples = h.bytesPerSample === 2 ? new Uint16Array(buffer, h.headerBytes, count) : new Uint8Array(buffer, h.headerBytes, count);
  // The frame's publish instant on the wall clock: the server's send time less the frame's age.
  h.publishRealtimeMs = Number((h.sendRealtimeNs - h.ageNs) / 1000n) / 1000;
  return h;
}

const PFNC = { RGB8: 0x02180014, BGR8: 0x02180015 };

// The contrast limits [lo, hi] for a frame's samples.
function contrastLimits(samples, maxValue, settings) {
  if (settings.mode === "manual") return [settings.min, Math.max(settings.max, settings.min + 1)];
  const histogram = new Uint32Array(maxValue + 1);
  for (let i = 0; i < samples.length; ++i) histogram[samples[i]]++;
  const [pLo, pHi] = settings.mode === "minmax" ? [0, 100] : [0.5, 99.5];
  const below = Math.floor((samples.length * pLo) / 100);
  const above = Math.ceil((samples.length * pHi) / 100);
  let lo = 0;
  let hi = maxValue;
  let seen = 0;
  let loFound = false;
  for (let v = 0; v <= maxValue; ++v) {
    seen += histogram[v];
    if (!loFound && seen > below) {
      lo = v;
      loFound = true;
    }
    if (seen >= above) {
      hi = v;
      break;
    }
  }
  return [lo, Math.max(hi, lo + 1)];
}

class FrameView {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d", { alpha: false, willReadFrequently: true });
    this.image = null;
    this.lut = null;
    this.lutKey = "";
  }

  // Draws one frame with `settings` ({mode, min, max, colormap}); returns the limits used.
  draw(h, settings) {
    if (!this.image || this.image.width !== h.width || this.image.height !== h.height) {
      this.canvas.width = h.width;
      this.canvas.height = h.height;
      this.image = this.context.createImageData(h.width, h.height);
    }
    const maxValue = 2 ** (8 * h.bytesPerSample) - 1;
    const [lo, hi] = contrastLimits(h.samples, maxValue, settings);
    const out = new Uint32Array(this.image.data.buffer);
    const s = h.samples;
    if (h.samplesPerPixel === 3) {
      // Colour: one stretch over the three channels (the balance kept), no colour map.
      const levels = new Uint8Array(maxValue + 1);
      for (let v = 0; v <= maxValue; ++v) levels[v] = level(v, lo, hi);
      const [r, b] = h.pixelFormat === PFNC.BGR8 ? [2, 0] : [0, 2];
      for (let i = 0, j = 0; i < out.length; ++i, j += 3) {
        out[i] = 0xff000000 | (levels[s[j + b]] << 16) | (levels[s[j + 1]] << 8) | levels[s[j + r]];
      }
    } else {
      const key = `${lo}:${hi}:${maxValue}:${settings.colormap}`;
      if (key !== this.lutKey) {
        const colours = COLOUR_TABLES[settings.colormap] ?? COLOUR_TABLES.grey;
        this.lut = new Uint32Array(maxValue + 1);
        for (let v = 0; v <= maxValue; ++v) this.lut[v] = colours[level(v, lo, hi)];
        this.lutKey = key;
      }
      const lut = this.lut;
      for (let i = 0; i < out.length; ++i) out[i] = lut[s[i]];
    }
    this.context.putImageData(this.image, 0, 0);
    return [lo, hi];
  }
}

// ---- the live connection -------------------------------------------------------------------------

const state = {
  ring: "",
  socket: null,
  reconnect: null,
  frames: 0,
  drawTimes: [], // ms of the last second's draws: the frame rate shown
};

// What tests and the benchmark read (window.framering).
const exposed = {
  lastFrame: null, // {sequence, width, height, pixelFormat, binning, lo, hi, colormap, latencyMs, ...}
  framesDrawn: 0,
  latencies: [], // publish -> canvas, ms, one per frame drawn
  paintLatencies: [], // publish -> the next animation frame after the draw (the screen's turn), ms
  ages: [], // publish -> send on the server, ms
  closes: [], // {code, reason} of each WebSocket close
  // The raw sample (channel c) of pixel (x, y) of the last frame drawn.
  rawSample(x, y, c = 0) {
    const f = exposed.lastFrame;
    return f ? f.samples[(y * f.width + x) * f.samplesPerPixel + c] : undefined;
  },
  resetStats() {
    exposed.latencies = [];
    exposed.paintLatencies = [];
    exposed.ages = [];
    exposed.framesDrawn = 0;
  },
};
window.framering = exposed;

function settings() {
  return {
    mode: $("contrast").value,
    min: Number($("min").value),
    max: Number($("max").value),
    colormap: $("colormap").value,
  };
}

function nowRealtimeMs() {
  return performance.timeOrigin + performance.now();
}

function onFrame(view, event) {
  let h;
  try {
    h = parseHeader(event.data);
  } catch (e) {
    showMessage(String(e.message ?? e));
    return;
  }
  const used = settings();
  const [lo, hi] = view.draw(h, used);
  const drawnMs = nowRealtimeMs();
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send("ack");
  const latencyMs = drawnMs - h.publishRealtimeMs;
  exposed.latencies.push(latencyMs);
  if (exposed.latencies.length > LATENCIES_KEPT) exposed.latencies.shift();
  exposed.ages.push(Number(h.ageNs) / 1e6);
  if (exposed.ages.length > LATENCIES_KEPT) exposed.ages.shift();
  requestAnimationFrame(() => {
    exposed.paintLatencies.push(nowRealtimeMs() - h.publishRealtimeMs);
    if (exposed.paintLatencies.length > LATENCIES_KEPT) exposed.paintLatencies.shift();
  });
  exposed.framesDrawn++;
  exposed.lastFrame = { ...h, lo, hi, colormap: used.colormap, mode: used.mode, latencyMs, drawnMs };
  view.canvas.dataset.sequence = String(h.sequence);
  if (used.mode !== "manual") {
    // The automatic limits, shown where they can be edited; never under the user's cursor.
    for (const [id, value] of [["min", lo], ["max", hi]]) {
      if (document.activeElement !== $(id)) $(id).value = value;
    }
  }
  state.drawTimes.push(drawnMs);
  while (state.drawTimes.length > 0 && state.drawTimes[0] < drawnMs - 1000) state.drawTimes.shift();
  $("frame-info").textContent =
    `sequence ${h.sequence} · ${h.width}×${h.height}${h.binning > 1 ? ` (bin ${h.binning})` : ""} · ` +
    `${state.drawTimes.length} frames/s · publish → canvas ${latencyMs.toFixed(1)} ms · [${lo}, ${hi}]`;
}

function connect(view) {
  if (state.reconnect) clearTimeout(state.reconnect);
  state.reconnect = null;
  if (state.socket) {
    state.socket.onclose = null;
    state.socket.close(1000);
    state.socket = null;
  }
  if (!state.ring) return;
  const query = new URLSearchParams({ max_fps: $("max-fps").value || "30", bin: $("bin").value });
  if (token()) query.set("token", token());
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/v1/rings/${encodeURIComponent(state.ring)}/live?${query}`);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => onFrame(view, event);
  socket.onopen = () => showMessage("");
  socket.onclose = (event) => {
    exposed.closes.push({ code: event.code, reason: event.reason });
    showMessage(`live view closed (${event.code}${event.reason ? `: ${event.reason}` : ""}); retrying`);
    state.socket = null;
    state.reconnect = setTimeout(() => connect(view), 2000);
  };
  state.socket = socket;
}

// ---- tables ------------------------------------------------------------------------------------

// Brings a table's rows up to date: each row is {key, cells}, a cell text or {text, cls, node}.
// Rows and cells are updated in place, never rebuilt, so that a button under the pointer stays
// the same element across the refreshes (a rebuilt row would swallow a click in progress).
function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  const existing = new Map([...body.rows].map((tr) => [tr.dataset.key, tr]));
  rows.forEach(({ key, cells }, i) => {
    let tr = existing.get(key);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.key = key;
    }
    while (tr.cells.length < cells.length) tr.insertCell();
    while (tr.cells.length > cells.length) tr.deleteCell(-1);
    cells.forEach((cell, k) => updateCell(tr.cells[k], cell));
    if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] ?? null);
  });
  while (body.rows.length > rows.length) body.deleteRow(-1);
}

function updateCell(td, cell) {
  const c = typeof cell === "object" && cell !== null ? cell : { text: cell };
  if (c.node) {
    if (td.firstElementChild?.dataset.key !== c.node.dataset.key) td.replaceChildren(c.node);
  } else {
    const text = String(c.text ?? "");
    if (td.firstElementChild || td.textContent !== text) td.textContent = text;
  }
  const cls = [c.cls, typeof c.text === "number" ? "num" : ""].filter(Boolean).join(" ");
  if (td.className !== cls) td.className = cls;
}

const ms = (us) => (us === undefined || us === null ? "–" : (us / 1000).toFixed(2));

function showStatus(status, view) {
  $("run-instance").textContent = `instance ${status.instance}`;
  $("run-state").textContent = status.state;
  fillTable(
    "stages",
    status.stages.map((s) => ({
      key: s.name,
      cells: [s.name, { text: s.state, cls: `state-${s.state}` }, s.restarts, s.pid || "–", s.last_exit],
    })),
  );
  const rings = status.rings.filter((r) => !r.error);
  fillTable(
    "rings",
    rings.map((r) => ({
      key: r.ring,
      cells: [
        r.ring,
        `${r.geometry.width}×${r.geometry.height} ${r.geometry.pixel_format}`,
        r.producer.published,
        r.producer.rate_fps.toFixed(1),
        { text: r.producer.frames_dropped, cls: r.producer.frames_dropped > 0 ? "bad" : "" },
        { text: r.source.frames_lost, cls: r.source.frames_lost > 0 ? "bad" : "" },
      ],
    })),
  );
  fillTable(
    "consumers",
    rings.flatMap((r) =>
      r.consumers.map((c) => ({
        key: `${r.ring}/${c.name}`,
        cells: [
          r.ring,
          c.name,
          c.kind,
          c.state,
          c.lag,
          { text: c.frames_lost, cls: c.frames_lost > 0 ? "bad" : "" },
          c.frames_skipped,
          ms(c.latency_us?.p50),
          ms(c.latency_us?.p99),
        ],
      })),
    ),
  );
  // The ring choice: this run's rings; the first one (or ?ring=) until the user picks one.
  const select = $("ring");
  const names = rings.map((r) => r.ring);
  const shown = [...select.options].map((o) => o.value);
  if (names.join("\n") !== shown.join("\n")) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    if (names.includes(state.ring)) select.value = state.ring;
  }
  if (!state.ring && names.length > 0) {
    const wanted = new URL(location.href).searchParams.get("ring");
    state.ring = names.includes(wanted) ? wanted : names[0];
    select.value = state.ring;
    connect(view);
  }
}

function showRecordings(list) {
  fillTable(
    "recordings",
    list.recordings.map((r) => {
      let stop = "";
      if (r.state === "recording") {
        const button = document.createElement("button");
        button.textContent = "Stop";
        button.dataset.id = r.id;
        button.dataset.key = `stop-${r.id}`;
        button.className = "record-stop";
        button.onclick = () => stopRecording(r.id);
        stop = { node: button };
      }
      return {
        key: r.id,
        cells: [
          r.id,
          r.name,
          r.ring,
          { text: r.state, cls: `state-${r.state}` },
          r.frames,
          { text: r.lost, cls: r.lost > 0 ? "bad" : "" },
          { text: r.verdict ?? "–", cls: r.verdict ? `verdict-${r.verdict}` : "" },
          stop,
        ],
      };
    }),
  );
}

async function refresh(view) {
  try {
    showStatus(await api("/api/v1/status"), view);
    showRecordings(await api("/api/v1/recordings"));
  } catch (e) {
    showMessage(e.message);
  }
}

async function startRecording(event) {
  event.preventDefault();
  const request = { name: $("record-name").value, ring: state.ring };
  const frames = $("record-frames").value;
  if (frames !== "") request.frames = Number(frames);
  try {
    const started = await api("/api/v1/recordings", { method: "POST", body: JSON.stringify(request) });
    showMessage("");
    exposed.lastRecording = started;
    showRecordings(await api("/api/v1/recordings"));
  } catch (e) {
    showMessage(`recording not started: ${e.message}`);
  }
}

async function stopRecording(id) {
  try {
    await api(`/api/v1/recordings/${encodeURIComponent(id)}/stop`, { method: "POST" });
    showRecordings(await api("/api/v1/recordings"));
  } catch (e) {
    showMessage(`recording not stopped: ${e.message}`);
  }
}

// ---- start -------------------------------------------------------------------------------------

function main() {
  takeTokenFromAddress();
  const view = new FrameView($("frame"));
  const params = new URL(location.href).searchParams;
  for (const [param, id] of [["bin", "bin"], ["max_fps", "max-fps"], ["contrast", "contrast"], ["min", "min"],
                             ["max", "max"], ["colormap", "colormap"]]) {
    if (params.has(param)) $(id).value = params.get(param);
  }
  $("ring").onchange = () => {
    state.ring = $("ring").value;
    connect(view);
  };
  $("bin").onchange = () => connect(view);
  $("max-fps").onchange = () => connect(view);
  // Typing a limit switches the stretch to manual.
  for (const id of ["min", "max"]) $(id).oninput = () => ($("contrast").value = "manual");
  $("record-form").onsubmit = startRecording;
  $("token-form").onsubmit = (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-form").hidden = true;
    refresh(view);
    connect(view);
  };
  refresh(view);
  setInterval(() => refresh(view), 1000);
}

main();
