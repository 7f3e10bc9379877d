// Drives the playground in Debian's Chromium (playwright-core, never a downloaded browser):
// plays the acks=1 failover lesson to its end and prints the lost count the page shows; kills
// the partition leader with a click and reports where leadership went; rewinds and reports
// whether the earlier state came back; saves a screenshot of every lesson.
// Runs a partitioner plugin's .wasm in the page (the browser's WebAssembly engine). Scans the
// page with axe-core (WCAG 2.0/2.1 A and AA rules) in several states.
// Usage: node playground.mjs URL SCREENSHOT_DIR PLUGIN_WASM   (prints one JSON line)
import { chromium } from "playwright-core";
import { createRequire } from "module";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
// axe-core's WCAG 2.0 and 2.1 level A and AA rules on the page as it is now: each violated
// rule with its impact and up to three offending elements.
const a11y = async (page) => {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) {
    await page.addScriptTag({ path: axePath });
  }
  return page.evaluate(async () => {
    const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
    return r.violations.map((v) => ({
      rule: v.id, impact: v.impact, help: v.help,
      elements: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
};

const [url, shots, pluginWasm] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const missing = [];
  page.on("response", (r) => { if (r.status() >= 400) missing.push(`${r.status()} ${r.url()}`); });
  await page.goto(url);
  await page.waitForSelector("[data-testid=scenario]", { timeout: 20000 });
  result.axe = { first_screen: await a11y(page) };
  await page.screenshot({ path: `${shots}/first-screen-1280x720.png` });
  const lessons = await page.$$eval("[data-testid=scenario] option", (os) => os.map((o) => o.value));
  const text = async (id) => (await page.textContent(`[data-testid=${id}]`)).trim();
  // "12.3 s of 30 s" → 12.3
  const seconds = (time) => Number(time.split(" ")[0]);
  const leaderOf = async () => {
    for (const b of [0, 1, 2]) {
      const t = await page.textContent(`[data-testid=replica-${b}-0]`).catch(() => null);
      if (t && t.startsWith("p0 leader")) return b;
    }
    return null;
  };

  // 1. The acks=1 lesson to its end: the lost count.
  const ACKS1 = "acks1-failover";
  await page.selectOption("[data-testid=scenario]", ACKS1);
  await page.click("[data-testid=end]");
  result.lesson = await page.$eval("[data-testid=scenario]", (s) => s.options[s.selectedIndex].text);
  // The brokers' cards are on the first screen at 1280×720 (issue 17: they began below it).
  result.broker_card_box = await page.$eval("[data-testid=broker-2]", (e) => {
    const r = e.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom };
  });
  result.lost = Number(await text("lost"));
  result.sent = Number(await text("sent"));
  // The producer's retries and timeouts are on the page (the lessons use retries=5).
  result.producer_retries = await text("producer-retries");

  // 2. Same lesson from the start: 1.4 s in, note the view; one more step, kill the leader.
  await page.selectOption("[data-testid=scenario]", "acks-all-unclean");
  await page.selectOption("[data-testid=scenario]", ACKS1);
  for (let i = 0; i < 14; i++) await page.click("[data-testid=step]");
  const before = await page.textContent("section.cluster");
  result.time_before = await text("time");
  await page.click("[data-testid=step]");
  result.leader_before = await leaderOf();
  await page.click(`[data-testid=kill-${result.leader_before}]`);
  result.killed_shows_down = (await text(`broker-${result.leader_before}`)).includes("down");
  for (let i = 0; i < 40; i++) await page.click("[data-testid=step]");
  result.leader_after = await leaderOf();

  // 3. Rewind to 1.4 s with the time slider: the view from before the kill.
  await page.$eval("[data-testid=scrub]", (el) => {
    el.value = "1400";
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  result.time_rewound = await text("time");
  result.rewound_equal = (await page.textContent("section.cluster")) === before;

  // 4. Keyboard: space plays, space pauses; time moves in between. Focus leaves the Step
  //    button first: Space on a focused button presses it (one 100 ms step), not play.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const t0 = seconds(await text("time"));
  await page.keyboard.press(" ");
  await page.waitForTimeout(500);
  await page.keyboard.press(" ");
  result.keyboard_played_ms = Math.round((seconds(await text("time")) - t0) * 1000);
  // The shortcuts do not also scroll the page (Space scrolled a screen down, End to the
  // bottom), and act on nothing when a button has the focus.
  await page.evaluate(() => window.scrollTo(0, 300));
  const y0 = await page.evaluate(() => window.scrollY);
  await page.keyboard.press(" ");
  await page.keyboard.press(" ");
  await page.keyboard.press("End");
  result.keyboard_scrolled_px = Math.abs((await page.evaluate(() => window.scrollY)) - y0);
  await page.click("[data-testid=rewind]");
  const onButton = await text("time");
  for (const k of ["ArrowLeft", "ArrowRight", "End"]) await page.keyboard.press(k);
  result.keys_on_button_kept_time = (await text("time")) === onButton;

  // 5. Settings replay the lesson: acks=all with min.insync.replicas=2 loses nothing.
  await page.selectOption("[data-testid=scenario]", ACKS1);
  await page.selectOption("[data-testid=acks]", "all");
  await page.fill("[data-testid=min-insync]", "2");
  await page.$eval("[data-testid=min-insync]", (el) => el.dispatchEvent(new Event("change", { bubbles: true })));
  await page.click("[data-testid=end]");
  result.lost_acks_all = Number(await text("lost"));
  result.acked_acks_all = Number(await text("acknowledged"));
  // The lesson's text tells the lesson as written: the page says the settings differ.
  result.settings_changed = (await page.$("[data-testid=settings-changed]")) !== null;
  // min.insync.replicas=0 is refused in the broker's words, and 2 stays in force.
  await page.fill("[data-testid=min-insync]", "0");
  await page.$eval("[data-testid=min-insync]", (el) => el.dispatchEvent(new Event("change", { bubbles: true })));
  result.min_insync_zero = {
    error: await text("min-insync-error").catch(() => null),
    acknowledged: Number(await text("acknowledged")),
  };

  // 6. The sandbox (5 brokers × 20 partitions): cut a link, see it in the events; then play
  //    at full speed and count animation frames for 2 s. Focus leaves the link's button
  //    first (Space on it would heal the link, not play), and the clock must have moved:
  //    frames counted while paused measure nothing.
  const sandbox = lessons[lessons.length - 1];
  await page.selectOption("[data-testid=scenario]", sandbox);
  for (let i = 0; i < 20; i++) await page.click("[data-testid=step]");
  await page.click("[data-testid=link-B0-B1]");
  result.link_cut = (await text("timeline")).includes("link B0 ↔ B1 cut");
  await page.$eval("input[aria-label=speed]", (el) => {
    el.value = "50";
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const sandboxStart = seconds(await text("time"));
  await page.keyboard.press(" ");
  result.fps = await page.evaluate(() => new Promise((done) => {
    let frames = 0;
    const start = performance.now();
    const tick = (t) => {
      frames++;
      if (t - start < 2000) requestAnimationFrame(tick);
      else done(frames / ((t - start) / 1000));
    };
    requestAnimationFrame(tick);
  }));
  await page.keyboard.press(" ");
  result.sandbox_time = await text("time");
  result.sandbox_played_ms = Math.round((seconds(result.sandbox_time) - sandboxStart) * 1000);
  result.sandbox_link_still_cut = (await text("link-B0-B1")) === "Heal";
  result.axe.sandbox = await a11y(page);
  result.sandbox_wires = await page.$$eval("[data-testid=network] circle.wire", (cs) => cs.length);
  result.sandbox_in_flight = await text("in-flight");

  // 7. The link holds the session: a new page opened on it shows the same time and counts.
  const link = page.url();
  result.link_has_session = link.includes("#");
  const again = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await again.goto(link);
  await again.waitForSelector("[data-testid=scenario]");
  await again.waitForFunction((t) => document.querySelector("[data-testid=time]").textContent.trim() === t, result.sandbox_time, { timeout: 20000 }).catch(() => {});
  result.shared_time = (await again.textContent("[data-testid=time]")).trim();
  result.shared_sent_equal = (await again.textContent("[data-testid=sent]")) === (await page.textContent("[data-testid=sent]"));
  await again.close();

  // 8. Chapters: forward twice to the crash, back once to before it.
  await page.selectOption("[data-testid=scenario]", ACKS1);
  await page.click("[data-testid=chapter-next]");
  await page.click("[data-testid=chapter-next]");
  result.chapter = await text("chapter");
  result.chapter_crash_down = (await text("broker-0")).includes("down");
  await page.click("[data-testid=chapter-prev]");
  result.chapter_back_up = (await text("broker-0")).includes("up");
  result.chapter_back_time = await text("time");
  result.log_cells = await page.$$eval("[data-testid=log-0] .cell", (cs) => cs.length);

  // 9. Export the session to a file, switch lessons, import it: the same place again.
  for (let i = 0; i < 3; i++) await page.click("[data-testid=step]");
  const exportedTime = await text("time");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("[data-testid=export]")]);
  const saved = `${shots}/session.txt`;
  await download.saveAs(saved);
  await page.selectOption("[data-testid=scenario]", "acks-all-unclean");
  await page.setInputFiles("[data-testid=import]", saved);
  await page.waitForFunction((t) => document.querySelector("[data-testid=time]").textContent.trim() === t, exportedTime, { timeout: 10000 }).catch(() => {});
  result.imported_time_equal = (await text("time")) === exportedTime;
  result.imported_lesson = await page.$eval("[data-testid=scenario]", (s) => s.value);

  // 10. Keys and compaction: equal keys share a partition; compaction keeps the latest per
  //     key at its offset; past the delete horizon the tombstone goes too.
  //     The acks=1 lesson folds these panels away (it does not use them); the compaction
  //     lesson shows them.
  result.acks1_more_tools = await page.$eval("[data-testid=more-tools]", (d) => [d.open, d.querySelector("summary").textContent]).catch(() => null);
  result.acks1_group_visible = await page.isVisible("[data-testid=group]");
  await page.selectOption("[data-testid=scenario]", "compaction");
  result.keys_partitions = await page.$$eval("[data-testid=keys-partitions] li", (lis) => lis.map((li) => li.textContent));
  const cells = () => page.$$eval("[data-testid=compacted] .cell", (cs) => cs.map((c) => c.textContent));
  result.compacted = await cells();
  await page.check("[data-testid=past-horizon]");
  result.compacted_past_horizon = await cells();

  // 11. The region partitioner plugin, the same .wasm the broker runs, in this browser.
  await page.selectOption("[data-testid=scenario]", "partitions-ordering");
  await page.setInputFiles("[data-testid=plugin-file]", pluginWasm);
  await page.waitForSelector("[data-testid=plugin-result] li, [data-testid=plugin-error]", { timeout: 20000 });
  result.plugin = await page.$$eval("[data-testid=plugin-result] li", (lis) => lis.map((li) => li.textContent));
  result.plugin_error = await page.textContent("[data-testid=plugin-error]").catch(() => null);

  // 12. Keys in the simulated cluster: a typed key lands on one partition; the compaction and
  //     retention lessons show gaps and a climbing log start; requests on the wire are drawn.
  await page.selectOption("[data-testid=scenario]", "partitions-ordering");
  for (let i = 0; i < 20; i++) await page.click("[data-testid=step]");
  await page.fill("[data-testid=produce-key]", "zed");
  await page.$eval("[data-testid=produce-key]", (el) => el.dispatchEvent(new Event("change", { bubbles: true })));
  // Typing in the key field: the arrows and End move the caret, not time.
  const typingTime = await text("time");
  await page.focus("[data-testid=produce-key]");
  for (const k of ["ArrowLeft", "ArrowLeft", "End", "ArrowRight"]) await page.keyboard.press(k);
  result.typing_kept_time = (await text("time")) === typingTime;
  await page.click("[data-testid=produce]");
  // Space on the focused produce button presses it; it does not start playback.
  await page.focus("[data-testid=produce]");
  await page.keyboard.press(" ");
  await page.waitForTimeout(400);
  result.space_on_button_kept_time = (await text("time")) === typingTime;
  await page.click("[data-testid=step]");
  result.zed_partitions = [];
  for (const p of [0, 1, 2]) {
    await page.selectOption("[data-testid=log-partition]", String(p));
    const strips = await page.$$eval("[data-testid=log-table] tr[data-testid]", (ss) => ss.map((s) => s.textContent));
    if (strips.length === 3 && strips.every((t) => t.includes(":zed="))) result.zed_partitions.push(p);
  }
  await page.selectOption("[data-testid=scenario]", "compaction");
  await page.click("[data-testid=end]");
  await page.selectOption("[data-testid=log-partition]", "0");
  result.compaction_cells = await page.$$eval("[data-testid=log-0] .cell", (cs) => cs.map((c) => c.textContent));
  await page.selectOption("[data-testid=scenario]", "retention");
  await page.click("[data-testid=end]");
  result.retention_start = await text("log-start-0");
  // The retention lesson's own 4 s shows in the settings (it read "forever").
  result.retention_setting = await page.$eval("[data-testid=retention]", (el) => el.options[el.selectedIndex].text);
  await page.selectOption("[data-testid=scenario]", ACKS1);
  for (let i = 0; i < 30; i++) await page.click("[data-testid=step]");
  result.acks1_in_flight = await text("in-flight");

  // 13. Consumers: add one, it gets a share; a reset is refused while members run.
  await page.selectOption("[data-testid=scenario]", "offsets-rewind");
  for (let i = 0; i < 20; i++) await page.click("[data-testid=step]");
  await page.click("[data-testid=add-member]");
  for (let i = 0; i < 40; i++) await page.click("[data-testid=step]");
  result.added_member = await text("member-2");
  result.group_state = await text("group-state");
  await page.click("[data-testid=reset-earliest]");
  result.reset_refused = (await text("timeline")).includes("offset reset refused");
  result.axe.consumer_group = await a11y(page);

  // 13b. The assignor is a setting (issue 17): the rebalance lesson replayed with
  //      cooperative-sticky (KIP-429): the old members keep four partitions through the
  //      rebalance, and the events say which one each gives up. (The eager join's stop lasts
  //      24 ms, between the slider's 100 ms steps: the model's tests check it.)
  const scrubTo = async (ms) => page.$eval("[data-testid=scrub]", (el, ms) => {
    el.value = String(ms);
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }, ms);
  await page.selectOption("[data-testid=scenario]", "consumer-group-rebalance");
  await page.selectOption("[data-testid=assignor]", "cooperative-sticky");
  await scrubTo(4300);
  result.cooperative = {
    state: await text("group-state"),
    member0: await text("member-0"),
    assignor: await page.$eval("[data-testid=assignor]", (el) => el.value),
    timeline: await text("timeline"),
  };

  // 14. A screenshot of every lesson at its end.
  result.screenshots = 0;
  for (const [i, value] of lessons.entries()) {
    await page.selectOption("[data-testid=scenario]", value);
    await page.click("[data-testid=end]");
    await page.screenshot({ path: `${shots}/lesson-${String(i).padStart(2, "0")}-${value}.png` });
    result.screenshots++;
  }
  // 15. Accessible names: every control says what it acts on, once.
  await page.selectOption("[data-testid=scenario]", ACKS1);
  const named = async (name) => page.getByRole("button", { name, exact: true }).count();
  result.names = {
    kill0: await named("Kill broker 0"),
    kill2: await named("Kill broker 2"),
    cut: await named("Cut link B0–B1"),
  };
  result.missing = missing;
  // Every data-testid names one element (the counters' "pending" and the producer's were
  // two), here and in the sandbox with its 5 brokers.
  const duplicates = () => page.$$eval("[data-testid]", (els) => {
    const seen = new Map();
    for (const e of els) seen.set(e.dataset.testid, (seen.get(e.dataset.testid) || 0) + 1);
    return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  });
  result.duplicate_testids = await duplicates();
  await page.selectOption("[data-testid=scenario]", lessons[lessons.length - 1]);
  result.duplicate_testids.push(...(await duplicates()));
  await page.selectOption("[data-testid=scenario]", ACKS1);
  // Live regions: only what changes now and then (the chapter), not the per-frame counters.
  result.live_regions = await page.$$eval("[aria-live]", (els) => els.map((e) => e.dataset.testid || e.className));
  // The counters' live region, played for 3.5 s: it changes about once a second.
  await page.evaluate(() => {
    window.liveChanges = [];
    const el = document.querySelector("[data-testid=counters-live]");
    new MutationObserver(() => window.liveChanges.push([performance.now(), el.textContent]))
      .observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.click("[data-testid=play]");
  await page.waitForTimeout(3500);
  await page.click("[data-testid=pause]");
  result.live_changes = await page.evaluate(() => window.liveChanges);

  // 15a. The circles are named in words (issue 17: Q, B0, P, C had no legend).
  result.party_legend = await text("party-legend");
  // 15b. Message kinds differ by shape, with a legend.
  result.legend = await page.$$eval("[data-testid=wire-legend] li", (ls) => ls.map((l) => [l.dataset.shape, l.textContent.trim()]));

  // 16a. The first screen says what this is.
  result.headline = await text("headline");
  result.title = await page.title();
  // 16b. The counters mean what they say (issue 17, item 1): with acks=all and
  // min.insync.replicas=2 the partition is offline at 13.5 s, yet nothing acknowledged is lost:
  // it is at risk, on the replicas.
  await page.selectOption("[data-testid=scenario]", "acks-all-min-insync-2");
  await page.$eval("[data-testid=scrub]", (el) => {
    el.value = "13500";
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  result.leadership_offline = await text("leadership");
  result.min_insync_counts = {};
  for (const id of ["sent", "acknowledged", "refused", "failed", "pending", "committed", "at-risk", "unavailable", "lost"]) {
    result.min_insync_counts[id] = Number(await text(id));
  }
  // 16c. The other steps, as a learner takes them with the time slider.
  const seek = async (ms) => page.$eval("[data-testid=scrub]", (el, ms) => {
    el.value = String(ms);
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }, ms);
  const counts = async () => {
    const c = {};
    for (const id of ["sent", "acknowledged", "refused", "failed", "pending", "committed", "at-risk", "unavailable", "lost"]) {
      c[id] = Number(await text(id));
    }
    return c;
  };
  await page.selectOption("[data-testid=scenario]", ACKS1);
  result.acks1_counts = {};
  for (const ms of [2000, 7000]) {
    await seek(ms);
    result.acks1_counts[ms] = await counts();
  }
  await page.click("[data-testid=end]");
  result.acks1_counts.end = await counts();
  await page.selectOption("[data-testid=scenario]", "kip101-leader-epoch");
  await seek(5200);
  result.kip101_counts = await counts();
  // np4 at 7 s: the deposed leader still believes it leads, beside the elected one.
  await page.selectOption("[data-testid=scenario]", "np4-leader-cut-from-quorum");
  await seek(7000);
  result.np4_p0 = [];
  for (const b of [0, 1, 2]) {
    const t = await page.textContent(`[data-testid=replica-${b}-0]`).catch(() => null);
    if (t) result.np4_p0.push([b, t.trim()]);
  }
  // The log table lines the two leaders' records up by offset: B0's writes since the
  // election are marked diverged, beside B1's at the same offsets.
  await page.selectOption("[data-testid=log-partition]", "0");
  result.np4_log_row0 = await text("log-start-0");
  result.np4_log = {};
  for (const b of [0, 1]) {
    result.np4_log[b] = await page.$$eval(`[data-testid=log-${b}] td`, (tds) => tds.map((td) => [td.className, td.textContent]));
  }
  // The learner centres the window on the leader's HW: it is in view, marked on B1's row.
  await page.click("[data-testid=log-at-hw]");
  result.np4_centred = {
    offsets: await page.$$eval("[data-testid=log-table] tr:first-child th", (ths) => ths.slice(1).map((t) => t.textContent)),
    b1_hw_marks: await page.$$eval("[data-testid=log-1] td.at-hw", (tds) => tds.length),
  };
  await page.click("[data-testid=log-auto]");
  await page.selectOption("[data-testid=scenario]", "acks-all-min-insync-2");
  await seek(13500);
  // A killed broker and a slowed one show their other buttons.
  await page.click("[data-testid=slow-1]");
  await page.click("[data-testid=kill-2]");
  result.axe.broker_down_and_slowed = await a11y(page);

  // 16d. Guided mode: playing stops where the next chapter starts, says what to look at and
  //      outlines it (issue 17).
  await page.selectOption("[data-testid=scenario]", ACKS1);
  await page.check("[data-testid=guided]");
  await page.$eval("input[aria-label=speed]", (el) => {
    el.value = "10";
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  // Played from the bottom of the page with Space: the chapter must bring its outline into
  // view.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.keyboard.press(" ");
  await page.waitForSelector("[data-testid=pause]", { timeout: 5000 }).catch(() => {});
  await page.waitForSelector("[data-testid=play]", { timeout: 20000 });
  result.guided = {
    time: await text("time"),
    chapter: await text("chapter"),
    guide: await text("guide"),
    outlined: await page.$$eval(".broker.highlight", (els) => els.map((e) => e.dataset.testid)),
    outlined_top: await page.$eval(".highlight", (e) => e.getBoundingClientRect().top),
  };
  // np4's second chapter outlines the network view, far below the lesson text: what to look
  // at stays on screen (it was scrolled 400 px above it), with a button to go on.
  await page.selectOption("[data-testid=scenario]", "np4-leader-cut-from-quorum");
  // On to the first chapter that outlines the log table or the network view.
  for (let i = 0; i < 5; i++) {
    await page.click("[data-testid=chapter-next]");
    const far = await page.$eval(".highlight", (e) => e.classList.contains("logs") || e.classList.contains("network")).catch(() => false);
    if (far) break;
  }
  await page.waitForTimeout(300);
  result.guided_far = {
    outlined: await page.$eval(".highlight", (e) => e.className),
    guide: await text("guide"),
    bar: await page.$eval("[data-testid=guide-bar]", (e) => {
      const r = e.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, height: window.innerHeight };
    }),
    outlined_top: await page.$eval(".highlight", (e) => e.getBoundingClientRect().top),
  };
  await page.uncheck("[data-testid=guided]");

  // 16. Phone width: nothing overflows sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  result.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  await page.screenshot({ path: `${shots}/phone.png` });
  // 17. A touch screen: no keyboard hints, and every control at least 24 px tall and wide.
  const touch = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  const phone = await touch.newPage();
  await phone.goto(url);
  await phone.waitForSelector("[data-testid=scenario]", { timeout: 20000 });
  result.axe.phone = await a11y(phone);
  // The first screen and the first lesson of each group, at phone size.
  await phone.screenshot({ path: `${shots}/first-screen-390x844.png` });
  // The phone's first screen reaches ▶ Play and the brokers (issue 17: both were below it):
  // the lesson's paragraph starts folded, the transport stays at the bottom of the screen.
  const box = (sel) => phone.$eval(sel, (e) => {
    const r = e.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom };
  });
  result.phone_first_screen = {
    play: await box("[data-testid=play]"),
    broker0: await box("[data-testid=broker-0]"),
    transport: await box("[data-testid=transport]"),
    about_open: await phone.$eval("[data-testid=about]", (d) => d.open),
  };
  // Scrolled down to the counters, ▶ Play is still on the screen.
  await phone.$eval("[data-testid=lost]", (e) => e.scrollIntoView());
  result.phone_scrolled_play = await box("[data-testid=play]");
  await phone.evaluate(() => window.scrollTo(0, 0));
  const firsts = await phone.$$eval("[data-testid=scenario] optgroup", (gs) => gs.map((g) => g.querySelector("option").value));
  result.phone_group_shots = [];
  for (const [i, value] of firsts.entries()) {
    await phone.selectOption("[data-testid=scenario]", value);
    await phone.click("[data-testid=end]");
    const name = `group-${i}-${value}-390x844.png`;
    await phone.screenshot({ path: `${shots}/${name}` });
    result.phone_group_shots.push(name);
  }
  result.touch = await phone.evaluate(() => ({
    coarse: matchMedia("(pointer: coarse)").matches,
    hints_shown: [...document.querySelectorAll(".key")].filter((e) => getComputedStyle(e).display !== "none").length,
    hints: document.querySelectorAll(".key").length,
    small: [...document.querySelectorAll("button, select, input")]
      .filter((e) => e.offsetParent !== null)
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width < 24 || r.height < 24).length,
  }));
  await touch.close();
  result.errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
