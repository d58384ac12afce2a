"use strict";
// certwatch's inventory page. It holds no data of its own: it reads the API it is served by,
// with the token the user pastes (kept in this tab's sessionStorage, sent only as a header).
(function () {
  var TOKEN_KEY = "certwatch.token";
  var TEAM_KEY = "certwatch.team";
  var DAY = 86400000;
  var HORIZON_DAYS = 120;
  // The API lives where the page does: "/" locally, "/api/" (the stage) behind API Gateway.
  var BASE = location.pathname.replace(/dashboard\/?$/, "");
  var STATUSES = ["critical", "error", "warning", "ok", "pending"];
  var WORDS = { critical: "Critical", error: "Error", warning: "Warning", ok: "OK", pending: "Not checked yet" };
  var MARKS = { critical: "\u2716", error: "?", warning: "\u25B2", ok: "\u2714", pending: "\u2026" };
  var SOURCES = { endpoint: "Endpoint", acm: "ACM", iam: "IAM", domain: "CT, not watched" };
  var REFRESH_MS = 60000;  // the page reads the API again every minute while it is open
  var POLL_MS = 2000;  // and every two seconds while a new target waits for its first check

  var state = { rows: [], notes: [], readiness: null, team: "", pollUntil: 0, timer: null, shown: "", read: "", reads: 0,
    posture: null, updated: null, failedAt: null, linked: null, linkPending: false, sort: { key: "days", dir: 1 }, expanded: {} };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
      else if (attrs[key] !== null && attrs[key] !== undefined && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function show(node, text, good) {
    node.textContent = text || "";
    node.hidden = !text;
    node.classList.toggle("good", Boolean(good));
  }

  // --- the API ------------------------------------------------------------------------------

  function ApiError(status, code, message, field) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.field = field;
  }
  ApiError.prototype.toString = function () {
    return this.message + (this.field ? " (field: " + this.field + ")" : "");
  };

  function withTeam(path) {
    if (!state.team) return path;
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "team=" + encodeURIComponent(state.team);
  }

  function call(method, path, body) {
    var headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY), Accept: "application/json" };
    var init = { method: method, headers: headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(BASE + withTeam(path), init).then(
      function (answer) {
        return answer.text().then(function (text) {
          var parsed = null;
          try { parsed = text ? JSON.parse(text) : null; } catch (ignored) { parsed = null; }
          if (answer.ok) return parsed;
          var error = parsed && (parsed.error || parsed);
          if (error && typeof error.message === "string") {
            throw new ApiError(answer.status, error.code || "", error.message, error.field);
          }
          if (error && typeof error.Message === "string") throw new ApiError(answer.status, error.Code || "", error.Message);
          throw new ApiError(answer.status, "", "the API answered " + answer.status + (text ? ": " + text.slice(0, 200) : ""));
        });
      },
      function (failure) {
        throw new ApiError(0, "network", "cannot reach the API (" + failure.message + ")");
      }
    );
  }

  function everything(path, into) {
    return call("GET", path).then(function (page) {
      into.items = into.items.concat(page.items || []);
      (page.notes || []).forEach(function (note) { if (into.notes.indexOf(note) < 0) into.notes.push(note); });
      if (page.readiness) into.readiness = page.readiness;
      if (page.next_cursor) {
        var sep = path.indexOf("?") < 0 ? "?" : "&";
        var base = path.replace(/[?&]cursor=[^&]*/, "");
        return everything(base + sep + "cursor=" + encodeURIComponent(page.next_cursor), into);
      }
      return into;
    });
  }

  // --- the model: the rows of GET /certificates, one per certificate and per endpoint without one --

  function shortName(name) {
    if (!name) return "";
    var match = /(?:^|,)CN=((?:\\.|[^,])*)/.exec(name);
    return match ? match[1].replace(/\\(.)/g, "$1") : name;
  }

  function labelText(labels) {
    return Object.keys(labels || {}).sort().map(function (key) { return key + "=" + labels[key]; });
  }

  function byName(a, b) { return a.name.localeCompare(b.name); }

  function endpointOf(use) {
    return {
      id: use.target_id,
      name: use.target,
      status: use.status,
      codes: use.codes || [],
      checked_at: use.checked_at,
      next_check_at: use.next_check_at,
      paused: Boolean(use.paused),
      labels: labelText(use.labels)
    };
  }

  // The API says each row's status; the page only words and arranges it.
  function toRow(item) {
    var endpoints = (item.endpoints || []).map(endpointOf).sort(byName);
    var labels = [];
    endpoints.forEach(function (use) {
      use.labels.forEach(function (label) { if (labels.indexOf(label) < 0) labels.push(label); });
    });
    var bare = item.kind === "endpoint";
    return {
      kind: item.kind,
      id: item.id,
      name: bare ? (endpoints[0] ? endpoints[0].name : item.id) : shortName(item.subject) || (item.sans || [])[0] || item.id,
      source: item.source,
      status: item.status,
      paused: endpoints.length > 0 && endpoints.every(function (use) { return use.paused; }),
      days_left: item.days_left,
      not_after: item.not_after,
      codes: item.codes || [],
      issuer: shortName(item.issuer),
      labels: labels.sort(),
      used_by: item.used_by || [],
      region: item.region || "",
      checked_at: item.checked_at,
      next_check_at: item.next_check_at,
      endpoints: endpoints,
      item: item
    };
  }

  // Where a certificate is: the endpoint serving it, how many serve it, or ACM/IAM.
  function whereIs(row) {
    if (row.source !== "endpoint") return SOURCES[row.source] || row.source;
    return row.endpoints.length === 1 ? row.endpoints[0].name : plural(row.endpoints.length, "endpoint");
  }

  // --- loading --------------------------------------------------------------------------------

  function load() {
    var read = ++state.reads;
    var certificates = { items: [], notes: [] };
    $("refresh").disabled = true;
    // The posture panel reads the CBOM and the team's policy; their failure fails neither the table nor
    // (for the policy, which an admin token without a team has none of) the rest of the panel.
    var posture = Promise.all([call("GET", "cbom"), call("GET", "settings").catch(function () { return null; })]).then(
      function (answers) { return { cbom: answers[0], settings: answers[1] }; },
      function (error) { return { error: String(error) }; });
    return Promise.all([everything("certificates?limit=500", certificates), posture])
      .then(function (answers) {
        if (read !== state.reads) return;  // a later read answers instead
        state.posture = answers[1];
        // What did not change is not drawn again (only the table's "3 min ago" may have moved).
        var answer = JSON.stringify([state.team, certificates, state.posture]);
        var same = answer === state.read && !$("app").hidden;
        state.read = answer;
        state.rows = certificates.items.map(toRow);
        state.notes = certificates.notes;
        state.readiness = certificates.readiness || null;
        state.updated = new Date();
        state.failedAt = null;
        show($("message"), "");
        $("login").hidden = true;
        $("app").hidden = false;
        $("session").hidden = false;
        if (same) renderTable();
        else render();
        if (state.linkPending) openLinked();
      })
      .catch(function (error) {
        if (read !== state.reads) return;
        state.failedAt = new Date();
        failed(error);
      })
      .then(function () {
        if (read !== state.reads) return;
        $("refresh").disabled = false;
        renderUpdated();
        schedule();
      });
  }

  function failed(error) {
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      signedOut("The API refused the token: " + error.message);
    } else {
      show($("message"), error instanceof ApiError ? String(error) : "Something went wrong: " + error);
    }
  }

  // The next read: in REFRESH_MS for as long as the page is open (after a failed read too), sooner
  // while a new target waits for its first check (every two seconds, for a minute at most).
  function schedule() {
    clearTimeout(state.timer);
    state.timer = null;
    if (!sessionStorage.getItem(TOKEN_KEY)) return;  // signed out: nothing to read with
    var waiting = Date.now() < state.pollUntil && state.rows.some(function (row) { return row.status === "pending" && !row.paused; });
    state.timer = setTimeout(load, waiting ? POLL_MS : REFRESH_MS);
  }

  function watchForResults() {
    state.pollUntil = Date.now() + 60000;
  }

  // A tab in the background may run its timers late: coming back, a stale page reads again at once.
  function onVisible() {
    if (document.hidden || $("app").hidden || !sessionStorage.getItem(TOKEN_KEY)) return;
    if (!state.updated || Date.now() - state.updated.getTime() >= REFRESH_MS) load();
  }

  function clock(moment) { return moment.toTimeString().slice(0, 8); }  // "12:03:04", the reader's own time

  function renderUpdated() {
    var line = $("updated");
    var text = state.updated ? "updated " + clock(state.updated) : "";
    if (state.failedAt) text = "update failed at " + clock(state.failedAt) + (state.updated ? " (last updated " + clock(state.updated) + ")" : "");
    line.textContent = text;
    line.setAttribute("datetime", (state.failedAt || state.updated || new Date()).toISOString());
  }

  function signedOut(why) {
    clearTimeout(state.timer);
    state.timer = null;
    $("app").hidden = true;
    $("session").hidden = true;
    $("login").hidden = false;
    show($("message"), "");
    show($("login-error"), why || "");
    $("token").value = "";
    $("token").focus();
  }

  // --- rendering ----------------------------------------------------------------------------

  function render() {
    renderSummary();
    renderTimeline();
    renderPosture();
    renderFilterChoices();
    renderTable();
  }

  function statusBadge(status) {
    return el("span", { class: "status s-" + status }, MARKS[status] + " " + WORDS[status]);
  }

  function day(stamp) { return stamp ? stamp.slice(0, 10) : "\u2014"; }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : /(s|x|ch|sh)$/.test(word) ? "es" : "s"); }

  // How long ago a check was, and how soon the next is: words that need no time zone.
  function span(ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 60) return plural(minutes, "min");
    var hours = Math.floor(minutes / 60);
    return hours < 48 ? plural(hours, "hour") : plural(Math.floor(hours / 24), "day");
  }

  function ago(stamp) {
    if (!stamp) return "\u2014";
    var ms = Date.now() - Date.parse(stamp);
    return ms < 60000 ? "just now" : span(ms) + " ago";
  }

  function until(stamp, paused) {
    if (paused) return "paused";
    if (!stamp) return "\u2014";
    var ms = Date.parse(stamp) - Date.now();
    return ms < 60000 ? "due now" : "in " + span(ms);
  }

  function moment(text, stamp) {
    return stamp ? el("time", { datetime: stamp, title: stamp }, text) : text;
  }

  function needs(n) { return n === 1 ? "needs" : "need"; }

  // What the team depends on: the rows CT shows under a watched domain for names nobody checks ("seen in
  // CT, not watched") are in the table and its chips, not in the verdict, the next expiry or the timeline.
  function ownRows() { return state.rows.filter(function (row) { return row.kind !== "unwatched"; }); }

  // The verdict counts certificates; endpoints that served none are counted apart.
  function renderSummary() {
    var watched = ownRows();
    var counts = {};
    STATUSES.forEach(function (s) { counts[s] = 0; });
    state.rows.forEach(function (row) { counts[row.status] += 1; });  // the chips filter the table: every row
    var certificates = watched.filter(function (row) { return row.kind !== "endpoint"; });
    var count = function (rows, statuses) { return rows.filter(function (row) { return statuses.indexOf(row.status) >= 0; }).length; };
    var urgent = count(certificates, ["critical", "error"]);
    var attention = urgent + count(certificates, ["warning"]);
    var bare = watched.filter(function (row) { return row.kind === "endpoint"; });
    var unreachable = count(bare, ["error"]);
    var waiting = count(bare, ["pending"]);
    var own = watched.filter(function (row) { return row.source === "endpoint"; })[0];
    var team = state.team || (own && own.item.team) || "";
    var verdict = $("verdict");
    verdict.className = "verdict";
    if (!watched.length) {
      verdict.textContent = "Nothing watched yet" + (team ? " for team " + team : "") + ": register an endpoint below.";
    } else if (urgent || unreachable) {
      var parts = [];
      if (attention) parts.push(plural(attention, "certificate") + " " + needs(attention) + " attention");
      if (unreachable) parts.push(plural(unreachable, "endpoint") + " unreachable");
      verdict.textContent = "Not safe: " + parts.join(", ");
      verdict.classList.add("critical");
    } else if (attention) {
      verdict.textContent = "Safe for now: " + plural(attention, "certificate") + " to renew soon";
      verdict.classList.add("warning");
    } else if (!certificates.length) {
      verdict.textContent = "Waiting for the first checks: " + plural(waiting, "endpoint") + " not checked yet";
    } else {
      verdict.textContent = "Safe: every certificate is fine" + (waiting ? "; " + plural(waiting, "endpoint") + " not checked yet" : "");
      verdict.classList.add("ok");
    }
    // One chip per status: how many rows have it; pressing one shows only those (again: all).
    var list = clear($("counts"));
    STATUSES.forEach(function (status) {
      if (status === "pending" && !counts.pending) return;
      list.appendChild(el("li", {}, el("button", {
        type: "button", class: "chip s-" + status, "data-status": status, "aria-pressed": "false",
        title: "Show only the rows with this status",
        onclick: function () { chooseStatus(status); }
      }, el("span", { class: "n" }, counts[status]), el("span", { "aria-hidden": "true" }, MARKS[status] + " "), WORDS[status])));
    });
    var paused = watched.filter(function (row) { return row.paused; }).length;
    if (paused) list.appendChild(el("li", { class: "plain s-pending" }, el("span", { class: "n" }, paused), "Paused"));
    syncChips();

    var now = Date.now();
    var dated = watched.filter(function (row) { return row.not_after; });
    var upcoming = dated.filter(function (row) { return Date.parse(row.not_after) >= now; });
    var expired = dated.length - upcoming.length;
    var next = upcoming.sort(function (a, b) { return Date.parse(a.not_after) - Date.parse(b.not_after); })[0];
    var sentence = next
      ? [el("strong", {}, "Next expiry: "), next.name + " (" + whereIs(next) + ") in " +
          plural(Math.floor((Date.parse(next.not_after) - now) / DAY), "day") + ", on " + day(next.not_after) + " \u2014 ",
        statusBadge(next.status)]
      : [el("strong", {}, "Next expiry: "), "none ahead"];
    if (expired) sentence.push(" \u00B7 " + plural(expired, "certificate") + " already expired");
    append(clear($("next-expiry")), sentence);
    renderReadiness();
    $("notes").textContent = (team ? "Team " + team + ". " : "") + state.notes.join(" ");
  }

  function chooseStatus(status) {
    var select = $("f-status");
    select.value = select.value === status ? "" : status;
    renderTable();
  }

  function syncChips() {
    var chosen = $("f-status").value;
    Array.prototype.forEach.call($("counts").querySelectorAll("button.chip"), function (chip) {
      chip.setAttribute("aria-pressed", String(chip.getAttribute("data-status") === chosen));
    });
  }

  // Readiness for shorter lifetimes (CA/B Forum SC-081), as GET /certificates sums it up for the
  // team's publicly trusted endpoints; nothing is said while there are none.
  function renderReadiness() {
    var r = state.readiness;
    var line = $("readiness");
    line.hidden = !r || !(r.endpoints_with_cadence + r.endpoints_without_renewal_seen);
    if (line.hidden) return;
    var parts = [el("strong", {}, "Shorter lifetimes: "),
      plural(r.endpoints_with_cadence, "public endpoint") + " with a renewal seen (" +
        r.ready_for_100_days + " ready for 100-day certificates, " + r.ready_for_47_days + " for 47-day ones)"];
    if (r.endpoints_without_renewal_seen) parts.push("; " + r.endpoints_without_renewal_seen + " without a renewal seen yet");
    parts.push(".");
    var step = r.next_step;
    if (step && r.not_ready_for_next_step.length) {
      parts.push(" Not ready for " + step.max_days + "-day certificates (from " + step.since + "): " +
        r.not_ready_for_next_step.join(", ") + ".");
    }
    append(clear(line), parts);
  }

  var SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
    return node;
  }

  // Buckets: what already expired, then one per week from today over the next 120 days.
  function timelineBuckets() {
    var now = Date.now();
    var start = new Date(now);
    start.setUTCHours(0, 0, 0, 0);
    var weeks = Math.ceil(HORIZON_DAYS / 7);
    var buckets = [{ label: "expired", title: "already expired", counts: {} }];
    for (var w = 0; w < weeks; w++) {
      var from = new Date(start.getTime() + w * 7 * DAY);
      buckets.push({ label: from.toISOString().slice(5, 10), title: "week of " + from.toISOString().slice(0, 10), counts: {} });
    }
    ownRows().forEach(function (row) {
      if (!row.not_after) return;
      var at = Date.parse(row.not_after);
      var index = at < now ? 0 : 1 + Math.floor((at - start.getTime()) / (7 * DAY));
      if (at >= now + HORIZON_DAYS * DAY || index >= buckets.length) return;
      var counts = buckets[index].counts;
      counts[row.status] = (counts[row.status] || 0) + 1;
    });
    return buckets;
  }

  function renderTimeline() {
    var buckets = timelineBuckets();
    var stacked = ["critical", "error", "warning", "ok"];
    // Drawn at the width it is shown at, so its text stays readable on a phone.
    var width = Math.max(300, Math.round($("timeline").clientWidth || 760));
    var height = 160, left = 28, bottom = 36, top = 16;
    var slot = (width - left) / buckets.length;
    var every = slot < 24 ? 3 : slot < 40 ? 2 : 1;
    var totals = buckets.map(function (b) { return stacked.reduce(function (n, s) { return n + (b.counts[s] || 0); }, 0); });
    var most = Math.max(1, Math.max.apply(null, totals));
    var scale = (height - bottom - top) / most;
    var described = buckets
      .map(function (b, i) { return totals[i] ? b.title + ": " + totals[i] : null; })
      .filter(Boolean);
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": "timeline-svg-title timeline-svg-desc" },
      svg("title", { id: "timeline-svg-title", text: "Certificates expiring per week over the next " + HORIZON_DAYS + " days" }),
      svg("desc", { id: "timeline-svg-desc", text: described.length ? described.join("; ") : "Nothing expires in this time." }));
    var axisY = height - bottom;
    chart.appendChild(svg("line", { class: "axis", x1: left, x2: width, y1: axisY, y2: axisY }));
    [most, Math.round(most / 2)].forEach(function (tick) {
      if (!tick) return;
      var y = axisY - tick * scale;
      chart.appendChild(svg("line", { class: "axis", x1: left, x2: width, y1: y, y2: y, "stroke-dasharray": "3 4" }));
      chart.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", text: tick }));
    });
    buckets.forEach(function (bucket, i) {
      var x = left + i * slot + slot * 0.15;
      var y = axisY;
      var group = svg("g", { class: "bucket", "data-bucket": bucket.title });
      stacked.forEach(function (status) {
        var n = bucket.counts[status] || 0;
        if (!n) return;
        var h = n * scale;
        y -= h;
        group.appendChild(svg("rect", { class: "f-" + status, "data-status": status, x: x, y: y, width: slot * 0.7, height: h, rx: 2 },
          svg("title", { text: bucket.title + ": " + n + " " + WORDS[status].toLowerCase() })));
      });
      if (totals[i]) group.appendChild(svg("text", { class: "count", x: x + slot * 0.35, y: y - 3, "text-anchor": "middle", text: totals[i] }));
      if (i % every === 0 && x + slot * 0.35 + 16 < width) {
        group.appendChild(svg("text", { x: x + slot * 0.35, y: axisY + 14, "text-anchor": "middle", text: bucket.label }));
      }
      chart.appendChild(group);
    });
    chart.appendChild(svg("text", { x: width, y: height - 4, "text-anchor": "end", text: "weeks from today (month-day, UTC)" }));
    append(clear($("timeline")), chart);

    var legend = clear($("legend"));
    stacked.forEach(function (status) {
      legend.appendChild(el("li", {}, el("span", { class: "swatch f-" + status, "aria-hidden": "true" }), MARKS[status] + " " + WORDS[status]));
    });

    var body = clear($("timeline-table").tBodies[0]);
    buckets.forEach(function (bucket, i) {
      if (!totals[i]) return;
      body.appendChild(el("tr", {}, el("th", { scope: "row" }, bucket.title),
        stacked.map(function (status) { return el("td", { class: "num" }, bucket.counts[status] || 0); })));
    });
    if (!body.rows.length) body.appendChild(el("tr", {}, el("td", { colspan: 5 }, "Nothing expires in the next " + HORIZON_DAYS + " days.")));
  }

  function options(select, values, words) {
    var chosen = select.value;
    clear(select).appendChild(el("option", { value: "" }, "any"));
    values.forEach(function (value) { select.appendChild(el("option", { value: value }, words ? words[value] || value : value)); });
    select.value = values.indexOf(chosen) >= 0 ? chosen : "";
  }

  function renderFilterChoices() {
    var present = function (pick) {
      var seen = [];
      state.rows.forEach(function (row) { [].concat(pick(row)).forEach(function (v) { if (v && seen.indexOf(v) < 0) seen.push(v); }); });
      return seen;
    };
    options($("f-status"), STATUSES, WORDS);  // every status, so that any chip can choose its own
    options($("f-source"), Object.keys(SOURCES).filter(function (s) { return present(function (r) { return r.source; }).indexOf(s) >= 0; }), SOURCES);
    options($("f-label"), present(function (r) { return r.labels; }).sort());
  }

  function visibleRows() {
    var status = $("f-status").value, source = $("f-source").value, label = $("f-label").value;
    var text = $("f-text").value.trim().toLowerCase();
    return state.rows.filter(function (row) {
      if (status && row.status !== status) return false;
      if (source && row.source !== source) return false;
      if (label && row.labels.indexOf(label) < 0) return false;
      if (!text) return true;
      var haystack = [row.name, row.id, row.issuer, row.source, row.region, row.status, WORDS[row.status]]
        .concat(row.codes, row.labels, row.used_by, row.item.sans || []).join(" ").toLowerCase();
      return haystack.indexOf(text) >= 0;
    });
  }

  // --- sorting: a column header's button sorts by it; again, the other way ---------------------

  var RANK = { critical: 0, error: 1, warning: 2, pending: 3, ok: 4 };
  function instant(value, missing) { return value ? Date.parse(value) : missing; }
  var SORTS = {
    status: { key: function (row) { return RANK[row.status]; }, words: ["status, worst first", "status, best first"] },
    name: { key: function (row) { return row.name.toLowerCase(); }, words: ["name, A to Z", "name, Z to A"] },
    days: { key: function (row) { return row.days_left === null || row.days_left === undefined ? -Infinity : row.days_left; },
      words: ["days left, soonest expiry first", "days left, latest expiry first"] },
    expires: { key: function (row) { return instant(row.not_after, -Infinity); }, words: ["expiry, soonest first", "expiry, latest first"] },
    checked: { key: function (row) { return instant(row.checked_at, -Infinity); }, words: ["last check, oldest first", "last check, newest first"] },
    next: { key: function (row) { return instant(row.paused ? null : row.next_check_at, Infinity); }, words: ["next check, soonest first", "next check, latest first"] },
    issuer: { key: function (row) { return row.issuer.toLowerCase(); }, words: ["issuer, A to Z", "issuer, Z to A"] },
    source: { key: function (row) { return SOURCES[row.source] || row.source; }, words: ["source, A to Z", "source, Z to A"] }
  };

  function sortBy(key) {
    state.sort = { key: key, dir: state.sort.key === key ? -state.sort.dir : 1 };
    renderTable();
  }

  function sorted(rows) {
    var key = SORTS[state.sort.key].key, dir = state.sort.dir;
    return rows.slice().sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
  }

  // The sorted column says so in aria-sort; the arrows are for the eye only.
  function renderSortHeaders() {
    Array.prototype.forEach.call($("inventory").tHead.querySelectorAll("button.sort"), function (button) {
      var th = button.parentNode;
      var chosen = button.getAttribute("data-sort") === state.sort.key;
      if (chosen) th.setAttribute("aria-sort", state.sort.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
      var arrow = button.querySelector(".arrow") || button.appendChild(el("span", { class: "arrow", "aria-hidden": "true" }));
      arrow.textContent = chosen ? (state.sort.dir > 0 ? " \u25B2" : " \u25BC") : " \u2195";
    });
  }

  // --- the table: a row per certificate (its endpoints below it, when opened) ------------------

  // A row's link: #certificate=<fingerprint>, or #target=<id> for the row showing that endpoint.
  function linkedRow(row) {
    var linked = state.linked;
    if (!linked) return false;
    if (linked.kind === "certificate") return row.id === linked.id;
    return row.endpoints.length === 1 && row.endpoints[0].id === linked.id;
  }

  function linkedEndpoint(use) {
    return Boolean(state.linked) && state.linked.kind === "target" && use.id === state.linked.id;
  }

  function targetButton(use) {
    return el("button", { type: "button", class: "open", "aria-haspopup": "dialog", "data-key": "target:" + use.id,
      onclick: function () { openTarget(use.id, use.name); } }, use.name);
  }

  function nameCell(row, opened) {
    var uses = row.endpoints;
    var name = row.kind === "endpoint"
      ? targetButton(uses[0] || { id: row.id, name: row.name })
      : el("button", { type: "button", class: "open", "aria-haspopup": "dialog", "data-key": "open:" + row.id,
        onclick: function () { openDetail(row); } }, row.name);
    var under = null;
    if (row.kind === "endpoint") {
      under = el("div", { class: "muted" }, row.status === "pending" ? "no check yet" : "no certificate read");
    } else if (row.kind === "unwatched") {
      under = el("div", { class: "muted" }, "seen in CT, not watched: ",
        (row.item.sans || []).filter(function (name) { return name.indexOf("*") < 0; }).map(watchButton));
    } else if (row.source !== "endpoint") {
      under = row.used_by.length ? el("div", { class: "muted" }, "used by " + row.used_by.length) : null;
    } else if (uses.length === 1) {
      under = el("div", { class: "muted" }, "served by ", targetButton(uses[0]));
    } else if (uses.length > 1) {
      under = el("div", {}, el("button", { type: "button", class: "toggle", "aria-expanded": String(opened), "data-key": "toggle:" + row.id,
        onclick: function () { state.expanded[row.id] = !opened; renderTable(); } },
        el("span", { "aria-hidden": "true" }, opened ? "\u25BE " : "\u25B8 "), plural(uses.length, "endpoint")));
    }
    return el("td", {}, name, under);
  }

  // One click registers a name CT saw under a watched domain as a target (its first check runs at once).
  function watchButton(name) {
    return el("button", { type: "button", class: "watch", "data-watch": name, onclick: function (event) {
      var button = event.target;
      button.disabled = true;
      call("POST", "targets", { target: "https://" + name })
        .then(function () { watchForResults(); return load(); })
        .catch(function (error) {
          if (error instanceof ApiError && error.status === 401) return failed(error);
          button.disabled = false;
          button.title = String(error);
        });
    } }, "watch " + name);
  }

  function tags(labels) { return labels.map(function (l) { return el("span", { class: "tag" }, l); }); }

  function certificateLine(row, opened) {
    var linked = linkedRow(row);
    return el("tr", { class: "r-" + row.status + (linked ? " linked" : ""), "data-id": row.id, "data-kind": row.kind,
      "aria-current": linked ? "true" : null },
      el("td", {}, statusBadge(row.status), row.paused ? el("span", { class: "tag" }, "paused") : null),
      nameCell(row, opened),
      el("td", { class: "num days" }, row.days_left === null || row.days_left === undefined ? "\u2014" : row.days_left),
      el("td", { class: "date roomy" }, day(row.not_after)),
      el("td", { class: "date roomy checked" }, moment(ago(row.checked_at), row.checked_at)),
      el("td", { class: "date optional next" }, moment(until(row.next_check_at, row.paused), row.next_check_at)),
      el("td", { class: "optional" }, row.issuer || "\u2014"),
      el("td", { class: "optional" }, SOURCES[row.source] || row.source),
      el("td", { class: "optional" }, tags(row.labels)),
      el("td", { class: "codes" }, row.codes.length ? row.codes.join(", ") : "\u2014"));
  }

  function endpointLine(row, use) {
    var linked = linkedEndpoint(use);
    return el("tr", { class: "sub r-" + use.status + (linked ? " linked" : ""), "data-target-id": use.id, "data-of": row.id,
      "aria-current": linked ? "true" : null },
      el("td", {}, statusBadge(use.status), use.paused ? el("span", { class: "tag" }, "paused") : null),
      el("td", {}, targetButton(use)),
      el("td", { class: "num days" }, ""),
      el("td", { class: "date roomy" }, ""),
      el("td", { class: "date roomy checked" }, moment(ago(use.checked_at), use.checked_at)),
      el("td", { class: "date optional next" }, moment(until(use.next_check_at, use.paused), use.next_check_at)),
      el("td", { class: "optional" }, ""),
      el("td", { class: "optional" }, ""),
      el("td", { class: "optional" }, tags(use.labels)),
      el("td", { class: "codes" }, use.codes.length ? use.codes.join(", ") : "\u2014"));
  }

  function renderTable() {
    syncChips();
    renderSortHeaders();
    var rows = sorted(visibleRows());
    var opened = function (row) { return row.endpoints.length > 1 && Boolean(state.expanded[row.id]); };
    // Rows are redrawn only when what they show changed: a redraw under the pointer loses a click.
    var shown = JSON.stringify([state.rows.length, state.linked, state.sort, rows.map(function (row) {
      return [row.id, row.name, row.status, row.paused, row.days_left, row.not_after, row.issuer, row.labels, row.codes, row.used_by,
        ago(row.checked_at), until(row.next_check_at, row.paused), opened(row) ? row.endpoints.map(function (use) {
          return [use.id, use.name, use.status, use.paused, use.labels, use.codes, ago(use.checked_at), until(use.next_check_at, use.paused)];
        }) : null];
    })]);
    if (shown === state.shown) return;
    state.shown = shown;
    var body = $("inventory").tBodies[0];
    var focused = body.contains(document.activeElement) ? document.activeElement.getAttribute("data-key") : null;
    clear(body);
    rows.forEach(function (row) {
      body.appendChild(certificateLine(row, opened(row)));
      if (opened(row)) row.endpoints.forEach(function (use) { body.appendChild(endpointLine(row, use)); });
    });
    if (!rows.length) {
      body.appendChild(el("tr", {}, el("td", { colspan: 10 }, state.rows.length ? "No certificate matches the filters." : "No certificate yet.")));
    }
    if (focused) {
      var again = Array.prototype.filter.call(body.querySelectorAll("[data-key]"), function (node) { return node.getAttribute("data-key") === focused; })[0];
      if (again) again.focus();
    }
    var kinds = function (list) {
      var bare = list.filter(function (row) { return row.kind === "endpoint"; }).length;
      return { certificates: list.length - bare, endpoints: bare };
    };
    var all = kinds(state.rows), seen = kinds(rows);
    var text = "Showing " + seen.certificates + " of " + plural(all.certificates, "certificate");
    if (all.endpoints) text += " and " + seen.endpoints + " of " + plural(all.endpoints, "endpoint") + " without one";
    $("shown").textContent = text + ", sorted by " + SORTS[state.sort.key].words[state.sort.dir > 0 ? 0 : 1] + ".";
  }


  // --- the crypto posture panel: GET /cbom's protocols and certificates, the rows' finding codes -----

  var EXCHANGES = ["hybrid post-quantum", "post-quantum", "classical", "unknown"];

  function propertyOf(component, name) {
    var found = (component.properties || []).filter(function (p) { return p.name === name; })[0];
    return found ? found.value : null;
  }

  // Each address an endpoint's latest check answered at: its key exchange's class, and the key
  // algorithm of each leaf certificate it served (the CBOM's dependencies, endpoint → protocol → certificate).
  function cbomPosture(cbom) {
    var components = {};
    (cbom.components || []).forEach(function (c) { components[c["bom-ref"]] = c; });
    var depends = {};
    (cbom.dependencies || []).forEach(function (d) { depends[d.ref] = d.dependsOn || []; });
    var exchanges = {};
    EXCHANGES.forEach(function (name) { exchanges[name] = []; });
    var keys = {};
    (cbom.services || []).forEach(function (service) {
      var use = { id: propertyOf(service, "certwatch:target_id"), name: service.name };
      if (!use.id) return;
      (depends[service["bom-ref"]] || []).forEach(function (ref) {
        var protocol = components[ref];
        if (!protocol) return;
        var kind = propertyOf(protocol, "certwatch:key_exchange") || "unknown";
        (exchanges[kind] || exchanges.unknown).push({ use: use, address: propertyOf(protocol, "certwatch:address"),
          group: propertyOf(protocol, "certwatch:group") });
        (depends[ref] || []).forEach(function (served) {
          var cert = components[served];
          if (!cert || served.indexOf("certificate:") !== 0 || propertyOf(cert, "certwatch:is_ca") === "true") return;
          var key = components[cert.cryptoProperties.certificateProperties.subjectPublicKeyRef] || {};
          var algorithm = components[((key.cryptoProperties || {}).relatedCryptoMaterialProperties || {}).algorithmRef];
          var name = algorithm ? algorithm.name : "unknown";
          var entry = keys[name] = keys[name] || { name: name, certificates: [], uses: [],
            level: algorithm ? algorithm.cryptoProperties.algorithmProperties.nistQuantumSecurityLevel : undefined };
          if (entry.certificates.indexOf(served) < 0) entry.certificates.push(served);
          if (!entry.uses.some(function (u) { return u.id === use.id; })) entry.uses.push(use);
        });
      });
    });
    return { exchanges: exchanges, keys: Object.keys(keys).map(function (k) { return keys[k]; }) };
  }

  // The endpoints whose latest check found a code (each endpoint once, by name).
  function endpointsWith(code) {
    var seen = {};
    state.rows.forEach(function (row) {
      row.endpoints.forEach(function (use) { if (use.codes.indexOf(code) >= 0) seen[use.id] = use; });
    });
    return Object.keys(seen).map(function (id) { return seen[id]; }).sort(byName);
  }

  function postureUses(uses, words) {
    return uses.length ? el("ul", { class: "posture-list" }, uses.map(function (use) {
      return el("li", {}, targetButton(use), words ? words(use) : null);
    })) : null;
  }

  function levelText(level) {
    return level === null || level === undefined ? "quantum level not known" : "NIST quantum level " + level;
  }

  function renderPosture() {
    var box = clear($("posture"));
    var read = state.posture;
    if (!read || read.error) {
      box.appendChild(el("p", { class: "muted" }, "The posture could not be read" + (read ? ": " + read.error : ".")));
      return;
    }
    var seen = cbomPosture(read.cbom);
    var addresses = EXCHANGES.reduce(function (n, k) { return n + seen.exchanges[k].length; }, 0);
    append(box, [
      el("table", { class: "compact", id: "posture-exchanges" },
        el("caption", {}, "Addresses by key exchange (" + addresses + (addresses === 1 ? " address" : " addresses") + " checked)"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Key exchange"), el("th", { scope: "col" }, "Addresses"),
          el("th", { scope: "col" }, "Where"))),
        el("tbody", {}, EXCHANGES.map(function (kind) {
          var at = seen.exchanges[kind];
          return el("tr", {}, el("th", { scope: "row" }, kind), el("td", { class: "num" }, String(at.length)),
            el("td", {}, postureUses(at.map(function (a) { return a.use; }).filter(function (use, i, all) {
              return all.indexOf(use) === i;
            }), function (use) {
              return " " + at.filter(function (a) { return a.use === use; }).map(function (a) {
                return [a.group, a.address].filter(Boolean).join(" at ");
              }).join(", ");
            })));
        }))),
      el("table", { class: "compact", id: "posture-keys" },
        el("caption", {}, "Key algorithms of the leaf certificates served"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Key"), el("th", { scope: "col" }, "Certificates"),
          el("th", { scope: "col" }, "Served by"))),
        el("tbody", {}, seen.keys.sort(function (a, b) { return b.certificates.length - a.certificates.length || a.name.localeCompare(b.name); })
          .map(function (key) {
            return el("tr", {}, el("th", { scope: "row" }, key.name + " (" + levelText(key.level) + ")"),
              el("td", { class: "num" }, "\u00D7" + key.certificates.length), el("td", {}, postureUses(key.uses.sort(byName))));
          }))),
      el("h3", {}, "Legacy TLS accepted"),
      postureUses(endpointsWith("LEGACY_TLS_ACCEPTED"), function () { return " accepts TLS 1.0 or 1.1 (LEGACY_TLS_ACCEPTED)"; }) ||
        el("p", { class: "muted" }, "No endpoint asked was found accepting TLS 1.0 or 1.1."),
      el("h3", {}, "Quantum-vulnerable signatures, by the policy's date"),
      el("p", {}, quantumDate(read.settings)),
      postureUses(endpointsWith("QUANTUM_VULNERABLE_SIGNATURE"), function () { return " signed or keyed with RSA, ECDSA or EdDSA (QUANTUM_VULNERABLE_SIGNATURE)"; }) ||
        el("p", { class: "muted" }, "No endpoint has a quantum-vulnerable signature by a policy's date.")
    ]);
  }

  function quantumDate(settings) {
    var by = settings && settings.posture && settings.posture.quantum_safe_signatures_by;
    if (!settings) return "The team's policy could not be read: each target's detail names its own.";
    return (by ? "The team's policy wants quantum-safe signatures (ML-DSA, SLH-DSA) by " + by + "."
      : "The team's policy sets no date for quantum-safe signatures.") +
      " A target's own policy may set another: its detail says which applies.";
  }

  // --- the detail dialog and the actions ------------------------------------------------------

  function fact(term, value) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
    return [el("dt", {}, term), el("dd", {}, Array.isArray(value) ? value.join(", ") : value)];
  }

  // Days left and the expiry; once expired, how long ago (a negative count reads as a typo).
  function expiryFacts(days, notAfter) {
    if (typeof days === "number" && days < 0) return [fact("Expired", plural(-days, "day") + " ago"), fact("Expired on", notAfter)];
    return [fact("Days left", days === null || days === undefined ? null : String(days)), fact("Expires", notAfter)];
  }

  function findingList(findings) {
    if (!findings || !findings.length) return el("p", { class: "muted" }, "No findings.");
    return el("ul", { class: "findings" }, findings.map(function (f) {
      return el("li", {}, el("span", { class: "tag" }, f.severity), el("code", {}, f.code), ": " + f.message);
    }));
  }

  function certificateItem(cert) {
    return el("li", {},
      el("div", {}, el("strong", {}, shortName(cert.subject) || cert.subject), cert.is_ca ? " (CA)" : ""),
      el("div", { class: "muted" }, "issued by " + (shortName(cert.issuer) || cert.issuer) + " \u00B7 valid until " + day(cert.not_after) +
        " \u00B7 " + cert.key_type + " " + cert.key_size + (cert.signature_algorithm ? " \u00B7 " + cert.signature_algorithm : "")),
      cert.algorithms ? el("div", { class: "muted" }, "algorithms: " + algorithmsText(cert.algorithms)) : null,
      cert.sans && cert.sans.length ? el("div", { class: "muted" }, "names: " + cert.sans.concat(cert.ip_sans || []).join(", ")) : null,
      el("div", { class: "fp" }, "SHA-256 " + cert.fingerprint_sha256));
  }

  // What a certificate is made of, each part with its NIST quantum level (0: a quantum computer breaks it).
  function algorithmsText(algorithms) {
    return [["key", algorithms.key], ["signature", algorithms.signature], ["hash", algorithms.hash]]
      .filter(function (part) { return part[1]; })
      .map(function (part) { return part[0] + " " + part[1].name + " (" + levelText(part[1].nist_quantum_level) + ")"; })
      .join(" \u00B7 ");
  }

  // The legacy versions an address accepted offered alone; nothing when the probe did not ask it.
  function legacyText(accepted) {
    if (!accepted) return null;
    return accepted.length ? "accepts " + accepted.join(", ") : "refuses TLS 1.0 and 1.1";
  }

  // A target's own posture policy in words (null: its team's applies).
  function postureText(posture) {
    if (!posture) return "the team's";
    var said = [];
    if (posture.require_post_quantum) said.push("post-quantum key exchange required");
    else if (posture.note_classical) said.push("classical key exchange noted");
    if (posture.quantum_safe_signatures_by) said.push("quantum-safe signatures by " + posture.quantum_safe_signatures_by);
    if (posture.legacy_tls) said.push("legacy TLS asked");
    return said.length ? said.join(" \u00B7 ") : "its own: nothing required";
  }

  function addressSection(result, several) {
    var leaf = result.leaf;
    var served = (leaf ? [leaf] : []).concat((result.chain || []).filter(function (cert) {
      return !leaf || cert.fingerprint_sha256 !== leaf.fingerprint_sha256;
    }));
    return el("section", { class: "address" },
      el("h3", {}, "Address " + (result.address || "(none)") + " ", statusBadge(result.status)),
      el("dl", { class: "facts" },
        expiryFacts(result.days_left, result.not_after),
        fact("TLS", [result.tls_version, result.cipher].filter(Boolean).join(" \u00B7 ")),
        fact("Key exchange", [result.group, result.key_exchange].filter(Boolean).join(" \u00B7 ")),
        fact("Legacy TLS", legacyText(result.legacy_tls)),
        fact("Trusted by", result.trusted_by),
        fact("Checked", result.checked_at && result.checked_at + " (" + result.elapsed_ms + " ms)")),
      several ? [el("h4", {}, "Findings at this address"), findingList(result.findings)] : null,
      el("h4", {}, "Chain as served, leaf first"),
      served.length ? el("ol", { class: "chain" }, served.map(certificateItem)) : el("p", { class: "muted" }, "No certificate was read."));
  }

  function yesNo(ready) { return ready === true ? "yes" : ready === false ? "no" : "not known yet"; }

  // How the endpoint's certificates are renewed (a registered target's history), and for which
  // of the coming maximum lifetimes that is soon enough.
  function cadenceSection(cadence) {
    var step = cadence.next_step;
    return [
      el("h3", {}, "Renewal cadence"),
      el("dl", { class: "facts" },
        fact("Certificates seen", String(cadence.certificates_seen)),
        fact("Renewed at age", cadence.renewed_at_age_days === null ? null : plural(cadence.renewed_at_age_days, "day")),
        fact("Least days left", cadence.least_days_left === null ? null : plural(cadence.least_days_left, "day")),
        fact("Ready for 100 days", yesNo(cadence.ready_for_100_days)),
        fact("Ready for 47 days", yesNo(cadence.ready_for_47_days)),
        fact("Next cut", step ? step.max_days + " days from " + step.since + " \u2014 ready: " + yesNo(step.ready) : null)),
      cadence.renewals.length
        ? el("ol", { class: "renewals" }, cadence.renewals.map(function (r) {
          return el("li", {}, "Renewed " + day(r.at) + ", " + plural(r.days_since_previous_change, "day") +
            " after the change before (the old certificate was " + plural(r.age_days, "day") + " old, " +
            plural(r.days_left, "day") + " left)");
        }))
        : el("p", { class: "muted" }, "No renewal seen yet.")
    ];
  }

  // The API takes only http(s) runbooks; a link is made of nothing else. It opens apart from the
  // page, which neither the runbook's site (noopener) nor its logs (noreferrer) get to see.
  function runbookLink(url) {
    if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return url || null;
    return el("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, url);
  }

  function targetBody(target, result) {
    var spec = [
      fact("Status", statusBadge(target.latest ? target.latest.status : "pending")),
      expiryFacts(target.latest && target.latest.days_left, target.latest && target.latest.not_after),
      fact("Checked", target.latest && target.latest.checked_at),
      fact("Next check", target.paused ? "paused" : target.next_check_at),
      fact("Owner", target.owner),
      fact("Runbook", runbookLink(target.runbook_url)),
      fact("Labels", labelText(target.labels)),
      fact("Thresholds", "warning at " + target.warn_days + " days, critical at " + target.critical_days),
      fact("Posture policy", postureText(target.posture)),
      fact("Registered by", target.source),
      fact("Team", target.team),
      fact("Id", target.id),
      fact("Notes", target.notes ? el("span", { class: "notes" }, target.notes) : null)
    ];
    var parts = [el("dl", { class: "facts" }, spec)];
    if (!result) {
      parts.push(el("p", { class: "muted" }, target.paused ? "Paused before its first check." : "Not checked yet: the first check is queued."));
      return parts;
    }
    parts.push(el("h3", {}, "Findings"), findingList(result.findings));
    if (result.cadence) parts.push(cadenceSection(result.cadence));
    var addresses = result.results || [];
    parts.push(el("h3", {}, plural(addresses.length, "address") + " behind " + (result.host || target.host)));
    addresses.forEach(function (r) { parts.push(addressSection(r, addresses.length > 1)); });
    return parts;
  }

  // A certificate's own facts, and the endpoints serving it (each opens that target's detail).
  function certificateBody(row) {
    var cert = row.item;
    var held = row.source !== "endpoint";
    var parts = [el("dl", { class: "facts" },
      fact("Status", statusBadge(row.status)),
      fact("Source", SOURCES[row.source] || row.source),
      expiryFacts(row.days_left, cert.not_after),
      fact("Subject", cert.subject),
      fact("Names", cert.sans),
      fact("Issuer", cert.issuer),
      fact("Key", cert.key),
      fact("Region", cert.region),
      fact("Last checked", cert.checked_at),
      fact("Next check", cert.next_check_at),
      fact("Findings", cert.codes),
      held ? fact("Used by", cert.used_by) : null,
      held ? fact("ARN", cert.id) : fact("SHA-256", cert.id))];
    if (held) {
      parts.push(el("p", { class: "muted" }, "Held in " + (SOURCES[row.source] || row.source) +
        ": certwatch reads it from the account. Watch the endpoints that serve it to check what they really serve."));
      return parts;
    }
    parts.push(el("h3", {}, "Served by " + plural(row.endpoints.length, "endpoint")),
      el("ul", { class: "served" }, row.endpoints.map(function (use) {
        return el("li", {}, statusBadge(use.status), " ", targetButton(use), use.paused ? el("span", { class: "tag" }, "paused") : null,
          el("span", { class: "muted" }, " \u00B7 checked " + ago(use.checked_at) + " \u00B7 next check " + until(use.next_check_at, use.paused)));
      })));
    parts.push(quietSection({ match: "certificate", value: row.id, endpoints: row.endpoints.map(function (use) { return use.id; }), checked: true }));
    return parts;
  }

  function openDialog(title) {
    $("detail-title").textContent = title;
    show($("detail-message"), "");
    clear($("detail-actions"));
    if (!$("detail").open) $("detail").showModal();
  }

  function openDetail(row) {
    if (row.kind === "endpoint") return openTarget(row.id, row.name);
    openDialog(row.name);
    append(clear($("detail-body")), certificateBody(row));
  }

  function openTarget(id, name) {
    openDialog(name);
    append(clear($("detail-body")), el("p", { class: "muted" }, "Reading the latest result\u2026"));
    call("GET", "targets/" + encodeURIComponent(id)).then(function (answer) { fillTarget(answer, answer.result); }, detailFailed);
  }

  // An alert's link: /dashboard#target=<id>&team=<team> opens that target once the table is read;
  // #certificate=<SHA-256 fingerprint> opens that certificate's row, its endpoints shown.
  function link() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var team = params.get("team") || "";
    if (params.get("target")) return { kind: "target", id: params.get("target"), team: team };
    var fingerprint = (params.get("certificate") || "").toLowerCase().replace(/[^0-9a-f]/g, "");
    return fingerprint ? { kind: "certificate", id: fingerprint, team: team } : null;
  }

  // The link's team becomes the page's (an admin token reads any team; a team token its own).
  function followLink() {
    var linked = link();
    if (!linked) return false;
    state.linkPending = true;
    if (linked.team && linked.team !== state.team) {
      state.team = linked.team;
      sessionStorage.setItem(TEAM_KEY, state.team);
      $("team").value = state.team;
      return true;  // the table must be read again, for that team
    }
    return false;
  }

  function rowOf(linked) {
    return state.rows.filter(function (row) {
      if (linked.kind === "certificate") return row.id === linked.id;
      return row.endpoints.some(function (use) { return use.id === linked.id; });
    })[0];
  }

  function openLinked() {
    var linked = link();
    state.linkPending = false;
    if (!linked) return;
    state.linked = { kind: linked.kind, id: linked.id };
    var row = rowOf(linked);
    if (row) {
      state.expanded[row.id] = true;
      if (visibleRows().indexOf(row) < 0) $("filters").reset();  // the filters must not hide what the link names
    }
    state.shown = "";
    renderTable();
    var line = $("inventory").querySelector("tr.linked");
    if (line) line.scrollIntoView({ block: "center" });
    if (linked.kind === "target") {
      var use = row && row.endpoints.filter(function (u) { return u.id === linked.id; })[0];
      openTarget(linked.id, use ? use.name : linked.id);
    } else if (!row) {
      show($("message"), "No certificate with the SHA-256 fingerprint " + linked.id + " in " +
        (state.team ? "team " + state.team + "'s" : "this") + " inventory.");
    }
  }

  function detailFailed(error) {
    if (error instanceof ApiError && error.status === 401) {
      $("detail").close();
      failed(error);
      return;
    }
    show($("detail-message"), String(error));
  }

  function fillTarget(target, result) {
    var actions = clear($("detail-actions"));
    var path = "targets/" + encodeURIComponent(target.id);
    var busy = function (button, work) {
      button.disabled = true;
      show($("detail-message"), "");
      work().catch(detailFailed).then(function () { button.disabled = false; });
    };
    var check = el("button", { type: "button", class: "primary", onclick: function () {
      busy(check, function () {
        return call("POST", path + "/check").then(function (answer) {
          fillTarget(answer, answer.result);
          show($("detail-message"), "Checked just now.", true);
          return load();
        });
      });
    } }, "Check now");
    var pause = el("button", { type: "button", onclick: function () {
      busy(pause, function () {
        return call("PATCH", path, { paused: !target.paused }).then(function (changed) {
          fillTarget(changed, result);
          show($("detail-message"), changed.paused ? "Paused: no checks, no alerts." : "Resumed.", true);
          return load();
        });
      });
    } }, target.paused ? "Resume" : "Pause");
    var remove = el("button", { type: "button", class: "danger", onclick: function () { confirmDelete(target, path, remove); } }, "Delete\u2026");
    append(actions, [check, pause, remove]);
    append(clear($("detail-body")), targetBody(target, result));
    $("detail-body").appendChild(quietSection({ match: "target", value: target.id, endpoints: [target.id], checked: Boolean(result) }));
    $("detail-title").textContent = target.target;
  }

  // --- keeping alerts quiet: acknowledge, silence for a while, end; and the events ---------------------
  // ``quieted`` is a target ({match: "target", value: its id}) or a certificate its endpoints serve
  // ({match: "certificate", value: its fingerprint}); ``endpoints`` picks the events about it.

  function quietSection(quieted) {
    var what = quieted.match === "target" ? "this target" : "this certificate";
    var silences = el("ul", { class: "silences", "aria-label": "Silences of " + what });
    var events = el("ul", { class: "events", "aria-label": "Events of " + what });
    var reason = el("input", { type: "text", id: "quiet-reason", maxlength: "500",
      placeholder: "why, shown with each event it keeps quiet", "aria-label": "Reason for the silence" });
    var maxDays = 30;
    var quiet = function (button, body, said) {
      button.disabled = true;
      show($("detail-message"), "");
      body[quieted.match] = quieted.value;
      body.reason = reason.value.trim() || "quieted on the inventory page";
      call("POST", "silences", body)
        .then(function (made) { show($("detail-message"), said(made), true); return refresh(); })
        .catch(detailFailed)
        .then(function () { button.disabled = false; });
    };
    var acknowledge = el("button", { type: "button", onclick: function () {
      quiet(acknowledge, { days: maxDays, until_certificate_changes: true }, function (made) {
        return "Acknowledged: quiet until " + (quieted.match === "target" ? "the" : "this") +
          " certificate is replaced (at the latest " + day(made.ends_at) + ").";
      });
    } }, "Acknowledge");
    if (!quieted.checked) acknowledge.disabled = true;
    var forDays = [1, 7, 30].map(function (days) {
      var button = el("button", { type: "button", onclick: function () {
        quiet(button, { days: Math.min(days, maxDays) }, function (made) { return "Silenced until " + made.ends_at + "."; });
      } }, "Silence " + plural(days, "day"));
      return button;
    });
    function endButton(silence) {
      var button = el("button", { type: "button", onclick: function () {
        button.disabled = true;
        call("DELETE", "silences/" + encodeURIComponent(silence.id))
          .then(function () { show($("detail-message"), "Silence ended: its events are delivered again.", true); return refresh(); })
          .catch(function (error) { button.disabled = false; detailFailed(error); });
      } }, "End now");
      return button;
    }
    function refresh() {
      return Promise.all([call("GET", "silences"), call("GET", "events?limit=100")]).then(function (answers) {
        maxDays = answers[0].max_days || maxDays;
        var mine = (answers[0].items || []).filter(function (s) { return s.active && s.match === quieted.match && s.value === quieted.value; });
        append(clear(silences), mine.length ? mine.map(function (s) {
          var until = s.until_certificate_changes ? "until its certificate is replaced, at the latest " + s.ends_at : "until " + s.ends_at;
          return el("li", { "data-silence": s.id }, "Quiet " + until + " · " + s.author + ": " + s.reason + " ", endButton(s));
        }) : el("li", { class: "muted" }, "Not silenced" + (quieted.match === "certificate" ? " as a certificate" : "") + ": its events are delivered."));
        var about = (answers[1].items || []).filter(function (e) {
          return quieted.endpoints.some(function (id) { return e.target_id === id || (e.endpoints || []).indexOf(id) >= 0; });
        });
        append(clear(events), about.length ? about.map(function (e) {
          var state = e.state === "silenced" ? el("span", { class: "tag silenced" }, "silenced by " + e.silenced_by)
            : el("span", { class: "tag" }, e.state === "published" ? "delivered" : "waiting");
          return el("li", { "data-event": e.id }, e.created_at + " ", el("strong", {}, e.type), " " + e.summary + " ", state);
        }) : el("li", { class: "muted" }, "No events yet."));
      }).catch(detailFailed);
    }
    refresh();
    return el("section", { class: "quiet", "aria-labelledby": "quiet-title" },
      el("h3", { id: "quiet-title" }, "Alerts"),
      el("div", { class: "actions" }, [reason, acknowledge].concat(forDays)),
      silences,
      el("h4", {}, "Recent events"),
      events);
  }

  function confirmDelete(target, path, opener) {
    var box;
    var keep = el("button", { type: "button", onclick: function () { box.remove(); opener.focus(); } }, "Keep it");
    var sure = el("button", { type: "button", class: "danger", onclick: function () {
      sure.disabled = true;
      call("DELETE", path).then(function () {
        $("detail").close();
        show($("message"), "Deleted " + target.target + " and its results.", true);
        return load().then(function () { show($("message"), "Deleted " + target.target + " and its results.", true); });
      }).catch(function (error) { sure.disabled = false; detailFailed(error); });
    } }, "Delete for good");
    box = el("div", { class: "confirm", role: "group", "aria-label": "Confirm the deletion" },
      el("p", {}, "Delete " + target.target + "? certwatch stops watching it and forgets its results."), sure, " ", keep);
    var existing = $("detail-actions").querySelector(".confirm");
    if (existing) existing.remove();
    $("detail-actions").appendChild(box);
    keep.focus();
  }

  // --- forms, filters, download ---------------------------------------------------------------

  // The register form sends what was typed; the API judges it and its message is shown as is.
  function registration(form) {
    var body = { target: form.target.value.trim() };
    var labels = form.labels.value.trim();
    if (labels) {
      var map = {};
      var isMap = labels.split(";").every(function (pair) {
        if (!pair.trim()) return true;
        var at = pair.indexOf("=");
        if (at < 0) return false;
        map[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
        return true;
      });
      body.labels = isMap ? map : labels;
    }
    [["owner", form.owner], ["runbook_url", form.runbook_url]].forEach(function (pair) {
      var text = pair[1].value.trim();
      if (text) body[pair[0]] = text;
    });
    [["warn_days", form.warn_days], ["critical_days", form.critical_days]].forEach(function (pair) {
      var text = pair[1].value.trim();
      if (text) body[pair[0]] = /^-?\d+$/.test(text) ? Number(text) : text;
    });
    return body;
  }

  function register(event) {
    event.preventDefault();
    var form = event.target;
    var result = $("register-result");
    var button = form.querySelector("button");
    button.disabled = true;
    show(result, "");
    call("POST", "targets", registration(form))
      .then(function (created) {
        form.reset();
        show(result, "Registered " + created.target + ": its first check is on its way.", true);
        watchForResults();
        return load();
      })
      .catch(function (error) {
        if (error instanceof ApiError && error.status === 401) return failed(error);
        show(result, "Not registered: " + error);
      })
      .then(function () { button.disabled = false; });
  }

  // Watched domains (docs/domains.md): listed when the panel is opened, added and removed from it.
  function loadDomains() {
    return call("GET", "domains").then(renderDomains).catch(function (error) {
      if (error instanceof ApiError && error.status === 401) return failed(error);
      show($("domain-result"), "Cannot list the watched domains: " + error);
    });
  }

  function renderDomains(page) {
    var list = clear($("domains-list"));
    if (!page.items.length) list.appendChild(el("li", { class: "muted" }, "No domain watched yet."));
    page.items.forEach(function (domain) {
      var facts = [
        domain.swept_at ? "swept " + ago(domain.swept_at) : "first sweep pending",
        domain.registration_expires_at ? "registration ends " + day(domain.registration_expires_at) : null,
        domain.allowed_issuers.length ? "issuers: " + domain.allowed_issuers.join(", ") : null,
        domain.unwatched.length ? plural(domain.unwatched.length, "name") + " in CT not watched" : null
      ].filter(Boolean).join(" \u00b7 ");
      var findings = domain.findings.map(function (f) { return el("li", {}, f.code + ": " + f.message); });
      list.appendChild(el("li", { "data-domain": domain.id },
        el("strong", {}, domain.domain), " ", el("span", { class: "muted" }, facts),
        findings.length ? el("ul", { "aria-label": "Findings of " + domain.domain }, findings) : null,
        el("button", { type: "button", class: "unwatch", onclick: function () { unwatchDomain(domain); } }, "Stop watching")));
    });
  }

  function watchDomain(event) {
    event.preventDefault();
    var form = event.target;
    var body = { domain: form.domain.value.trim() };
    var issuers = form.allowed_issuers.value.split(";").map(function (s) { return s.trim(); }).filter(Boolean);
    if (issuers.length) body.allowed_issuers = issuers;
    call("POST", "domains", body)
      .then(function (made) {
        form.reset();
        show($("domain-result"), "Watching " + made.domain + ": its first sweep reads CT and RDAP.", true);
        return loadDomains();
      })
      .catch(function (error) {
        if (error instanceof ApiError && error.status === 401) return failed(error);
        show($("domain-result"), "Not watched: " + error);
      });
  }

  function unwatchDomain(domain) {
    call("DELETE", "domains/" + encodeURIComponent(domain.id))
      .then(function () { show($("domain-result"), "No longer watching " + domain.domain + ".", true); return loadDomains(); })
      .catch(function (error) { show($("domain-result"), "Still watched: " + error); });
  }

  function csvCell(value, numeric) {
    var text = value === null || value === undefined ? "" : String(value);
    // A spreadsheet runs a cell that starts like a formula; text never should.
    if (!numeric && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  var CSV_COLUMNS = ["id", "kind", "name", "source", "status", "paused", "days_left", "not_after", "issuer", "findings",
    "labels", "used_by", "region", "checked_at", "next_check_at"];

  function download() {
    var lines = [CSV_COLUMNS.join(",")];
    sorted(visibleRows()).forEach(function (row) {
      lines.push([
        csvCell(row.id), csvCell(row.kind), csvCell(row.name), csvCell(row.source), csvCell(row.status), csvCell(row.paused),
        csvCell(row.days_left, true), csvCell(row.not_after), csvCell(row.issuer), csvCell(row.codes.join(" ")),
        csvCell(row.labels.join(";")), csvCell(row.used_by.join(" ")), csvCell(row.region), csvCell(row.checked_at),
        csvCell(row.next_check_at)
      ].join(","));
    });
    var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var link = el("a", { href: URL.createObjectURL(blob), download: "certwatch-" + (state.team || "inventory") + "-" + new Date().toISOString().slice(0, 10) + ".csv" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }

  // The CBOM is the API's document (GET /cbom) for the team shown, saved indented: the page adds nothing to it.
  function downloadCbom() {
    var button = $("download-cbom");
    button.disabled = true;
    call("GET", "cbom")
      .then(function (cbom) {
        var blob = new Blob([JSON.stringify(cbom, null, 2) + "\n"], { type: "application/vnd.cyclonedx+json" });
        var link = el("a", { href: URL.createObjectURL(blob), download: "certwatch-" + (state.team || "inventory") + "-cbom-" + new Date().toISOString().slice(0, 10) + ".cdx.json" });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
      })
      .catch(failed)
      .then(function () { button.disabled = false; });
  }

  function start() {
    $("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token").value.trim();
      if (!token) return show($("login-error"), "Paste a token first.");
      // A header cannot carry anything else; the API would never see it.
      if (!/^[\x21-\x7e]+$/.test(token)) return show($("login-error"), "That is not a token: a token has no spaces or accented letters.");
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token").value = "";
      show($("login-error"), "");
      load();
    });
    $("sign-out").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(TEAM_KEY);
      state.team = "";
      $("team").value = "";
      signedOut("");
    });
    $("refresh").addEventListener("click", load);
    $("team-form").addEventListener("submit", function (event) {
      event.preventDefault();
      state.team = $("team").value.trim();
      if (state.team) sessionStorage.setItem(TEAM_KEY, state.team);
      else sessionStorage.removeItem(TEAM_KEY);
      load();
    });
    $("register-form").addEventListener("submit", register);
    $("domain-form").addEventListener("submit", watchDomain);
    $("domains-box").addEventListener("toggle", function () { if ($("domains-box").open) loadDomains(); });
    ["f-status", "f-source", "f-label"].forEach(function (id) { $(id).addEventListener("change", renderTable); });
    $("f-text").addEventListener("input", renderTable);
    $("filters").addEventListener("submit", function (event) { event.preventDefault(); });
    $("f-clear").addEventListener("click", function () { $("filters").reset(); renderTable(); });
    $("download").addEventListener("click", download);
    $("download-cbom").addEventListener("click", downloadCbom);
    $("detail-close").addEventListener("click", function () { $("detail").close(); });
    Array.prototype.forEach.call($("inventory").tHead.querySelectorAll("button.sort"), function (button) {
      button.addEventListener("click", function () { sortBy(button.getAttribute("data-sort")); });
    });
    document.addEventListener("visibilitychange", onVisible);
    var resized = null;
    window.addEventListener("resize", function () {
      clearTimeout(resized);
      resized = setTimeout(function () { if (!$("app").hidden) renderTimeline(); }, 150);
    });

    state.team = sessionStorage.getItem(TEAM_KEY) || "";
    $("team").value = state.team;
    followLink();
    window.addEventListener("hashchange", function () {
      var reread = followLink();
      if (!state.linkPending || $("app").hidden) return;  // no link, or no token yet: the link waits for the table
      if (reread) load();
      else openLinked();
    });
    if (sessionStorage.getItem(TOKEN_KEY)) {
      watchForResults();
      load();
    } else {
      signedOut("");
    }
  }

  start();
})();
