/* jaclab.explore: the static panel.
 *
 * Python writes <div class="jx-panel" id="..."> holding a <script type="application/json">
 * with the initial state, then this script. On every slider `input` event the panel
 * recomputes, in plain JavaScript, what jaclab computes in Python:
 *
 *   u   = z / T
 *   σ   = softmax(u)               stable: subtract max(u) before exp
 *   J   = diag(σ) − σσᵀ            the Jacobian ∂σ/∂u (with respect to z it is J/T)
 *   λ   = eigenvalues of J         cyclic Jacobi iteration (J is symmetric, K ≤ 8)
 *   Jᵀg = σ ⊙ (g − ⟨g, σ⟩)         the vector-Jacobian product
 *
 * and redraws four inline SVG charts and the numbers. No network, no eval.
 * Numbers carry data-role attributes with 0-based indices (sigma-i, J-i-j, eig-i,
 * vjp-i, lambda-max, T) and their full-precision value in data-value; the panel
 * records the time of its last update in data-last-update-ms.
 */
(function () {
  "use strict";

  // ---- the math -----------------------------------------------------------

  /** σ_i = exp(u_i − m) / Σ_j exp(u_j − m), with m = max_j u_j. */
  function softmax(u) {
    const m = Math.max.apply(null, u);
    const e = u.map(function (x) { return Math.exp(x - m); });
    const total = e.reduce(function (a, b) { return a + b; }, 0);
    return e.map(function (x) { return x / total; });
  }

  /** J_ij = σ_i (δ_ij − σ_j). */
  function jacobian(s) {
    return s.map(function (si, i) {
      return s.map(function (sj, j) { return (i === j ? si : 0) - si * sj; });
    });
  }

  /** (Jᵀg)_i = σ_i (g_i − ⟨g, σ⟩). */
  function vjp(s, g) {
    const dot = s.reduce(function (acc, si, i) { return acc + si * g[i]; }, 0);
    return s.map(function (si, i) { return si * (g[i] - dot); });
  }

  /** Eigenvalues (ascending) of a symmetric matrix by cyclic Jacobi rotations.
   *
   * Each rotation in the (p, q) plane zeroes A_pq: with θ = (A_qq − A_pp) / (2 A_pq),
   * t = sign(θ) / (|θ| + √(θ² + 1)), c = 1/√(t² + 1), s = t c, A ← Rᵀ A R.
   * Sweeps repeat until the off-diagonal mass is negligible; the diagonal is then λ.
   */
  function eigenvaluesSymmetric(M) {
    const n = M.length;
    const A = M.map(function (row) { return row.slice(); });
    for (let sweep = 0; sweep < 50; sweep++) {
      let off = 0, total = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          total += A[i][j] * A[i][j];
          if (i !== j) off += A[i][j] * A[i][j];
        }
      }
      if (off <= 1e-30 * total || off === 0) break;
      for (let p = 0; p < n - 1; p++) {
        for (let q = p + 1; q < n; q++) {
          if (A[p][q] !== 0) rotate(A, p, q);
        }
      }
    }
    return A.map(function (row, i) { return row[i]; }).sort(function (a, b) { return a - b; });
  }

  function rotate(A, p, q) {
    const theta = (A[q][q] - A[p][p]) / (2 * A[p][q]);
    const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
    const c = 1 / Math.sqrt(t * t + 1), s = t * c;
    for (let k = 0; k < A.length; k++) {  // columns p and q: A R
      const akp = A[k][p], akq = A[k][q];
      A[k][p] = c * akp - s * akq;
      A[k][q] = s * akp + c * akq;
    }
    for (let k = 0; k < A.length; k++) {  // rows p and q: Rᵀ (A R)
      const apk = A[p][k], aqk = A[q][k];
      A[p][k] = c * apk - s * aqk;
      A[q][k] = s * apk + c * aqk;
    }
  }

  /** The first K of values, padded with the matching entries of pad. */
  function resized(values, K, pad) {
    return values.slice(0, K).concat(pad.slice(values.length, K));
  }

  // ---- colours: matplotlib's RdBu_r on [−limit, limit], as in the Python figure ----

  const RDBU_R = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
                  "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"].map(function (h) {
    return [1, 3, 5].map(function (k) { return parseInt(h.substr(k, 2), 16); });
  });

  function diverging(x, limit) {
    const t = Math.min(1, Math.max(0, (x / limit + 1) / 2)) * (RDBU_R.length - 1);
    const k = Math.min(Math.floor(t), RDBU_R.length - 2), f = t - k;
    const rgb = [0, 1, 2].map(function (c) {
      return Math.round(RDBU_R[k][c] + f * (RDBU_R[k + 1][c] - RDBU_R[k][c]));
    });
    return "rgb(" + rgb.join(",") + ")";
  }

  // ---- DOM helpers ----------------------------------------------------------

  // The SVG namespace, read from the HTML parser (so the page holds no URL literal).
  const SVG_NS = (function () {
    const d = document.createElement("div");
    d.innerHTML = "<svg></svg>";
    return d.firstChild.namespaceURI;
  })();

  function el(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    return finish(e, attrs, parent, text);
  }

  function svg(tag, attrs, parent, text) {
    const e = document.createElementNS(SVG_NS, tag);
    return finish(e, attrs, parent, text);
  }

  function finish(e, attrs, parent, text) {
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  /** Show x to 8 decimals (as "0.00000000", not "-0.00000000", when it rounds to zero). */
  function setNumber(node, x) {
    const text = x.toFixed(8);
    node.textContent = text === "-0.00000000" ? "0.00000000" : text;
    node.setAttribute("data-value", String(x));
  }

  // ---- charts: each is built once per K and then only has attributes changed ----

  const W = 320, H = 210, BOX = { left: 44, right: 12, top: 12, bottom: 34 };
  const PW = W - BOX.left - BOX.right, PH = H - BOX.top - BOX.bottom;

  function chartCard(parent, title, caption) {
    const card = el("figure", { class: "jx-card" }, parent);
    el("figcaption", { class: "jx-card-title" }, card, title);
    const s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": caption }, card);
    return s;
  }

  /** A y axis with gridlines; returns y(v), the pixel row of value v. */
  function yAxis(s, lo, hi, ticks, label) {
    const y = function (v) { return BOX.top + (hi - v) / (hi - lo) * PH; };
    ticks.forEach(function (v) {
      svg("line", { class: "jx-grid", x1: BOX.left, x2: W - BOX.right, y1: y(v), y2: y(v) }, s);
      svg("text", { class: "jx-tick", x: BOX.left - 6, y: y(v) + 4, "text-anchor": "end" }, s, String(v));
    });
    svg("text", { class: "jx-axis", transform: "translate(11," + (BOX.top + PH / 2) + ") rotate(-90)",
                  "text-anchor": "middle" }, s, label);
    return y;
  }

  /** K bars on a shared baseline; returns {bars, x}. */
  function barChart(s, K, xLabel) {
    const bw = PW / K, bars = [];
    for (let i = 0; i < K; i++) {
      const x = BOX.left + i * bw;
      bars.push(svg("rect", { class: "jx-bar", x: x + 0.15 * bw, width: 0.7 * bw, y: 0, height: 0 }, s));
      svg("text", { class: "jx-tick", x: x + bw / 2, y: H - BOX.bottom + 14, "text-anchor": "middle" }, s, String(i + 1));
    }
    svg("text", { class: "jx-axis", x: BOX.left + PW / 2, y: H - 4, "text-anchor": "middle" }, s, xLabel);
    return bars;
  }

  /** Place a bar between values a and b on the axis y. */
  function placeBar(bar, y, a, b) {
    const top = Math.min(y(a), y(b)), bottom = Math.max(y(a), y(b));
    bar.setAttribute("y", top);
    bar.setAttribute("height", Math.max(bottom - top, 0));
  }

  function buildSigmaChart(parent, K) {
    const s = chartCard(parent, "Probabilities σ = softmax(z / T)", "bar chart of the probabilities");
    const y = yAxis(s, 0, 1, [0, 0.25, 0.5, 0.75, 1], "σᵢ");
    const bars = barChart(s, K, "class i");
    return function (sigma) {
      bars.forEach(function (b, i) { placeBar(b, y, 0, sigma[i]); });
    };
  }

  function buildEigenChart(parent, K, bound) {
    const s = chartCard(parent, "Eigenvalues of J (ascending)", "bar chart of the eigenvalues of J");
    const y = yAxis(s, 0, 0.56, [0, 0.25, 0.5], "λ");
    const bars = barChart(s, K, "rank order");
    svg("line", { class: "jx-quarter", x1: BOX.left, x2: W - BOX.right, y1: y(0.25), y2: y(0.25) }, s);
    svg("line", { class: "jx-bound", x1: BOX.left, x2: W - BOX.right, y1: y(bound), y2: y(bound) }, s);
    svg("text", { class: "jx-bound-label", x: BOX.left + 4, y: y(bound) - 4 }, s, "bound λmax ≤ ½");
    svg("text", { class: "jx-quarter-label", x: BOX.left + 4, y: y(0.25) - 4 }, s, "¼ (not a bound)");
    return function (lam) {
      bars.forEach(function (b, i) { placeBar(b, y, 0, Math.max(lam[i], 0)); });
    };
  }

  function buildVjpChart(parent, K) {
    const s = chartCard(parent, "VJP  Jᵀg = σ ⊙ (g − ⟨g, σ⟩)", "bar chart of the vector-Jacobian product");
    const axis = svg("g", {}, s);
    const bars = barChart(s, K, "class i");
    let lim = null, y = null;
    return function (v, spread) {
      // |(Jᵀg)_i| ≤ σ_i(1 − σ_i)(max g − min g) ≤ (max g − min g)/4, whatever z and T are,
      // so the axis depends on g only and is redrawn only when g's spread changes.
      const newLim = 1.05 * Math.max(spread / 4, 1e-3);
      if (newLim !== lim) {
        lim = newLim;
        const t = Number((lim / 1.05).toPrecision(2));
        axis.textContent = "";
        y = yAxis(axis, -lim, lim, [-t, 0, t], "(Jᵀg)ᵢ");
      }
      bars.forEach(function (b, i) {
        placeBar(b, y, 0, v[i]);
        b.setAttribute("class", v[i] >= 0 ? "jx-bar jx-pos" : "jx-bar jx-neg");
      });
    };
  }

  function buildHeatmap(parent, K, limit, pid) {
    const s = chartCard(parent, "J = diag(σ) − σσᵀ", "heatmap of the Jacobian J");
    const side = PH, cell = side / K, x0 = BOX.left + 6, y0 = BOX.top;
    const cells = [];
    for (let i = 0; i < K; i++) {
      svg("text", { class: "jx-tick", x: x0 - 5, y: y0 + (i + 0.5) * cell + 4, "text-anchor": "end" }, s, String(i + 1));
      svg("text", { class: "jx-tick", x: x0 + (i + 0.5) * cell, y: y0 + side + 14, "text-anchor": "middle" }, s, String(i + 1));
      const row = [];
      for (let j = 0; j < K; j++) {
        const r = svg("rect", { class: "jx-cell", x: x0 + j * cell, y: y0 + i * cell, width: cell, height: cell }, s);
        row.push({ rect: r, tip: svg("title", {}, r) });
      }
      cells.push(row);
    }
    svg("text", { class: "jx-axis", x: x0 + side / 2, y: H - 4, "text-anchor": "middle" }, s, "j");
    svg("text", { class: "jx-axis", x: 11, y: y0 + side / 2, "text-anchor": "middle" }, s, "i");
    colourBar(s, x0 + side + 22, y0, side, limit, pid);
    return function (J) {
      cells.forEach(function (row, i) {
        row.forEach(function (c, j) {
          c.rect.setAttribute("fill", diverging(J[i][j], limit));
          c.tip.textContent = "J" + (i + 1) + "," + (j + 1) + " = " + J[i][j].toFixed(6);
        });
      });
    };
  }

  function colourBar(s, x, y, h, limit, pid) {
    const gid = pid + "-rdbu";
    const grad = svg("linearGradient", { id: gid, x1: 0, y1: 1, x2: 0, y2: 0 }, svg("defs", {}, s));
    RDBU_R.forEach(function (c, k) {
      svg("stop", { offset: k / (RDBU_R.length - 1), "stop-color": "rgb(" + c.join(",") + ")" }, grad);
    });
    svg("rect", { x: x, y: y, width: 12, height: h, fill: "url(#" + gid + ")", class: "jx-cbar" }, s);
    [[limit, "+¼"], [0, "0"], [-limit, "−¼"]].forEach(function (t) {
      const ty = y + (limit - t[0]) / (2 * limit) * h;
      svg("text", { class: "jx-tick", x: x + 16, y: ty + 4 }, s, t[1]);
    });
  }

  // ---- the panel --------------------------------------------------------------

  function mount(root) {
    const data = JSON.parse(root.querySelector("script.jx-data").textContent);
    const pid = root.id;
    const initial = { z: data.z.slice(), log10T: data.log10T, g: data.g.slice() };
    const zeros = data.padZ.map(function () { return 0; });
    let state = copy(initial);
    let view = null;

    const head = el("div", { class: "jx-head" }, root);
    el("div", { class: "jx-title" }, head, "Softmax Jacobian explorer");
    el("div", { class: "jx-formula" }, head, "σ = softmax(z / T),  J = diag(σ) − σσᵀ,  Jᵀg = σ ⊙ (g − ⟨g, σ⟩)");
    const bar = el("div", { class: "jx-toolbar" }, root);
    const kGroup = el("div", { class: "jx-k", role: "group", "aria-label": "number of classes K" }, bar);
    el("span", { class: "jx-label" }, kGroup, "K");
    const kButtons = [];
    for (let k = data.kMin; k <= data.kMax; k++) {
      const b = el("button", { type: "button", "data-k": k, "aria-label": "K = " + k }, kGroup, String(k));
      b.addEventListener("click", function () { setK(k); });
      kButtons.push(b);
    }
    const tWrap = el("label", { class: "jx-temp" }, bar);
    el("span", { class: "jx-label" }, tWrap, "T");
    const tRange = el("input", { type: "range", min: data.log10TMin, max: data.log10TMax, step: 0.01,
                                 "aria-label": "temperature (log10 T)", id: pid + "-logT" }, tWrap);
    const tOut = el("output", { "data-role": "T", for: pid + "-logT" }, tWrap);
    tRange.addEventListener("input", function () { state.log10T = parseFloat(tRange.value); update(); });
    const reset = el("button", { type: "button", class: "jx-reset" }, bar, "Reset");
    reset.addEventListener("click", function () { state = copy(initial); rebuild(); });
    const table = el("table", { class: "jx-controls" }, root);
    const charts = el("div", { class: "jx-charts" }, root);
    const numbers = el("div", { class: "jx-numbers" }, root);

    function copy(st) { return { z: st.z.slice(), log10T: st.log10T, g: st.g.slice() }; }

    function setK(K) {
      state.z = resized(state.z, K, data.padZ);
      state.g = resized(state.g, K, zeros);
      rebuild();
    }

    /** Build every K-dependent element, then draw. */
    function rebuild() {
      const K = state.z.length;
      kButtons.forEach(function (b) { b.setAttribute("aria-pressed", String(Number(b.dataset.k) === K)); });
      tRange.value = state.log10T;
      view = {
        rows: buildRows(table, K),
        numbers: buildNumbers(numbers, K),
        charts: buildCharts(K),
      };
      root.setAttribute("data-k", K);
      update();
    }

    function buildCharts(K) {
      charts.textContent = "";
      return {
        sigma: buildSigmaChart(charts, K),
        J: buildHeatmap(charts, K, data.jLimit, pid),
        eig: buildEigenChart(charts, K, 0.5),
        vjp: buildVjpChart(charts, K),
      };
    }

    function buildRows(table, K) {
      table.textContent = "";
      const head = el("tr", {}, el("thead", {}, table));
      ["", "logit zᵢ", "upstream gᵢ", "σᵢ", "(Jᵀg)ᵢ"].forEach(function (h, c) {
        el("th", c === 1 || c === 2 ? { colspan: 2 } : {}, head, h);
      });
      const body = el("tbody", {}, table), rows = [];
      for (let i = 0; i < K; i++) {
        const tr = el("tr", {}, body);
        el("th", { scope: "row" }, tr, String(i + 1));
        rows.push({
          z: pairedInputs(tr, "z", i, "logit z" + (i + 1), state.z),
          g: pairedInputs(tr, "g", i, "upstream gradient g" + (i + 1), state.g),
          sigma: el("td", { class: "jx-num", "data-role": "sigma-" + i }, tr),
          vjp: el("td", { class: "jx-num", "data-role": "vjp-" + i }, tr),
        });
      }
      return rows;
    }

    /** A range slider and a number box for entry i of the array `values`, kept in sync. */
    function pairedInputs(tr, name, i, label, values) {
      const common = { min: -data.limit, max: data.limit, value: values[i] };
      const range = el("input", Object.assign({ type: "range", step: 0.05, "aria-label": label,
                                                id: pid + "-" + name + i }, common), el("td", {}, tr));
      const box = el("input", Object.assign({ type: "number", step: 0.01, "aria-label": label + " value",
                                              class: "jx-box" }, common), el("td", {}, tr));
      range.value = box.value = values[i];
      range.addEventListener("input", function () {
        values[i] = parseFloat(range.value);
        box.value = range.value;
        update();
      });
      box.addEventListener("input", function () {
        const v = parseFloat(box.value);
        if (!isFinite(v)) return;
        values[i] = Math.min(data.limit, Math.max(-data.limit, v));
        range.value = values[i];
        update();
      });
      return { range: range, box: box };
    }

    function buildNumbers(div, K) {
      div.textContent = "";
      const jt = el("table", { class: "jx-matrix", "aria-label": "entries of J" }, div);
      el("caption", {}, jt, "Entries of J");
      const hr = el("tr", {}, el("thead", {}, jt));
      el("th", {}, hr, "i \\ j");
      for (let j = 0; j < K; j++) el("th", { scope: "col" }, hr, String(j + 1));
      const body = el("tbody", {}, jt), J = [];
      for (let i = 0; i < K; i++) {
        const tr = el("tr", {}, body);
        el("th", { scope: "row" }, tr, String(i + 1));
        const row = [];
        for (let j = 0; j < K; j++) row.push(el("td", { class: "jx-num", "data-role": "J-" + i + "-" + j }, tr));
        J.push(row);
      }
      const eig = el("div", { class: "jx-eig" }, div);
      el("span", { class: "jx-label" }, eig, "eigenvalues λ: ");
      const lam = [];
      for (let i = 0; i < K; i++) lam.push(el("span", { class: "jx-num", "data-role": "eig-" + i }, eig));
      const max = el("div", { class: "jx-eig" }, div);
      el("span", { class: "jx-label" }, max, "λmax = ");
      const lamMax = el("span", { class: "jx-num jx-strong", "data-role": "lambda-max" }, max);
      el("span", { class: "jx-label" }, max, "  ≤ ½ = bound");
      return { J: J, lam: lam, lamMax: lamMax };
    }

    /** Recompute everything from `state` and write it into the existing elements. */
    function update() {
      const t0 = performance.now();
      const T = Math.pow(10, state.log10T);
      const sigma = softmax(state.z.map(function (zi) { return zi / T; }));
      const J = jacobian(sigma);
      const lam = eigenvaluesSymmetric(J);
      const v = vjp(sigma, state.g);
      const spread = Math.max.apply(null, state.g) - Math.min.apply(null, state.g);
      tOut.textContent = T.toPrecision(3);
      tOut.setAttribute("data-value", String(T));
      view.rows.forEach(function (r, i) { setNumber(r.sigma, sigma[i]); setNumber(r.vjp, v[i]); });
      view.numbers.J.forEach(function (row, i) { row.forEach(function (c, j) { setNumber(c, J[i][j]); }); });
      view.numbers.lam.forEach(function (c, i) { setNumber(c, lam[i]); });
      setNumber(view.numbers.lamMax, lam[lam.length - 1]);
      view.charts.sigma(sigma);
      view.charts.J(J);
      view.charts.eig(lam);
      view.charts.vjp(v, spread);
      root.setAttribute("data-updates", String(Number(root.getAttribute("data-updates") || 0) + 1));
      root.setAttribute("data-last-update-ms", (performance.now() - t0).toFixed(3));
    }

    rebuild();
  }

  const script = document.currentScript;
  const root = script && script.closest(".jx-panel");
  if (root && !root.hasAttribute("data-mounted")) {
    root.setAttribute("data-mounted", "true");
    mount(root);
  }
})();
