"""The Gradio app in Debian's Chromium (Playwright), on the real agent team and the real embedded model server.

The app is started once per session (in-process, on the shared ``llamacpp_server`` fixture); each test opens a
fresh page, i.e. a fresh Gradio session. Screenshots go to test-artifacts/ui/. Answers are short (the assistant's
max_tokens), so a turn takes seconds; waits are generous because CI shares two cores.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_fixtures import free_port

from medtriage.paths import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
MAX_TOKENS = 48  # short answers keep the suite within CI's time
TURN_MS = 240_000  # one real turn on a busy 2-core machine, with room to spare
STARTUP_S = 1800  # first use builds the knowledge base (minutes of embedding on one core)
VIGNETTES = REPO_ROOT / "agents" / "triage" / "data" / "vignettes"

STROKE_EN = "My husband suddenly has slurred speech, his face droops on one side and he cannot lift his left arm."

# Records, in DOM-update order, when the emergency banner and the latest answer's text first appear.
WATCH_ORDER = """() => {
  window.__order = []; let tick = 0;
  const seen = (name) => window.__order.some((e) => e.name === name);
  new MutationObserver(() => {
    tick += 1;
    if (!seen('banner') && document.querySelector('#emergency-banner .mt-banner'))
      window.__order.push({name: 'banner', tick});
    const bots = document.querySelectorAll('#chatbot [data-testid=bot]');
    const last = bots[bots.length - 1];
    if (!seen('answer') && last && last.innerText.trim()) window.__order.push({name: 'answer', tick});
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="session")
def ui_url(llamacpp_server) -> Iterator[str]:  # noqa: ANN001  (the serving engineer's fixture)
    """The real app (agents.assistant on the shared llama.cpp server), served once for the session."""
    from ui.app import build_app, launch
    from ui.backend import Backend, Settings

    backend = Backend(Settings(base_url=llamacpp_server.base_url, model=llamacpp_server.model_id, top_k=3,
                               max_tokens=MAX_TOKENS))
    assert backend.wait_ready(STARTUP_S), f"the app did not start: {backend.phase} {backend.error}"
    demo = build_app(backend)
    port = free_port()
    launch(demo, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    backend.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh test (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, ui_url: str):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1300, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(ui_url)
    page.wait_for_selector("#message textarea")
    yield page
    context.close()


def shot(page, name: str) -> Path:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ask(page, text: str) -> str:  # noqa: ANN001
    """Send ``text`` and wait for the verified answer; return the last answer bubble's text."""
    answers = page.locator("#chatbot [data-testid=bot]")
    before = answers.count()
    page.fill("#message textarea", text)
    page.click("#send")
    page.wait_for_function(
        """(n) => document.querySelectorAll('#chatbot [data-testid=bot]').length > n
                  && document.querySelector('#agent-trace table[data-done]')""", arg=before, timeout=TURN_MS)
    return answers.last.inner_text()


def test_english_conversation_sources_follow_up_and_transcript(page) -> None:  # noqa: ANN001
    answer = ask(page, "I have had a sore throat and a mild fever since yesterday. What can I do at home?")
    assert answer.strip()
    assert page.locator("#disclaimer").is_visible() and "119" in page.inner_text("#disclaimer")
    level = page.get_attribute("#triage-badge .mt-badge", "data-level")
    assert level in ("emergency", "urgent", "routine", "self_care")
    agents = page.eval_on_selector_all("#agent-trace tr[data-agent]", "rows => rows.map(r => r.dataset.agent)")
    assert agents[:5] == ["translator", "retriever", "triage", "answerer", "verifier"]

    sources = page.locator("#sources details.mt-source")
    if sources.count():  # the knowledge base had passages above its threshold
        first = sources.first
        assert first.get_attribute("data-citation") in first.locator("summary").inner_text()
        assert not first.locator(".mt-source-text").is_visible()
        first.locator("summary").click()
        assert first.locator(".mt-source-text").is_visible() and first.get_attribute("open") is not None
    else:
        assert page.inner_text("#sources").strip()

    follow_up = ask(page, "How long should I rest before going back to work?")
    assert follow_up.strip() and page.locator("#chatbot [data-testid=user]").count() == 2
    shot(page, "english_conversation")

    page.wait_for_function("() => !document.querySelector('#download-transcript').disabled")
    with page.expect_download() as download:
        page.click("#download-transcript")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line) for line in lines)

    page.click("#new-chat")
    page.wait_for_function("() => document.querySelectorAll('#chatbot [data-testid=user]').length === 0")
    assert page.locator("#download-transcript").is_disabled()


def test_korean_conversation_switches_the_labels(page) -> None:  # noqa: ANN001
    assert page.inner_text("#send").strip() == "Send"
    answer = ask(page, "어제부터 목이 아프고 열이 조금 나요. 집에서 어떻게 하면 될까요?")
    assert page.inner_text("#send").strip() == "보내기"
    assert page.inner_text("#tab-chat-button").strip() == "상담"
    assert "의료 조언이 아닙니다" in page.inner_text("#disclaimer")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in answer), answer
    assert page.locator("#triage-badge .mt-badge").count() == 1
    shot(page, "korean_conversation")


def test_stroke_shows_the_emergency_banner_before_any_answer_text(page) -> None:  # noqa: ANN001
    page.evaluate(WATCH_ORDER)
    ask(page, STROKE_EN)
    order = page.evaluate("window.__order")
    assert [e["name"] for e in order] == ["banner", "answer"], order
    assert order[0]["tick"] < order[1]["tick"], f"banner and answer text appeared in the same update: {order}"
    banner = page.locator("#emergency-banner .mt-banner")
    assert "119" in banner.inner_text()
    assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    badge = page.locator("#triage-badge .mt-badge")
    assert badge.get_attribute("data-level") == "emergency"
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    assert page.locator("#triage-badge li[data-flag]").count() >= 1
    shot(page, "stroke_emergency")


def test_bad_input_gets_a_clear_message_and_the_app_keeps_working(page, tmp_path: Path) -> None:  # noqa: ANN001
    page.click("#send")
    page.wait_for_function("() => document.querySelector('#chat-notice').innerText.includes('type a message')")
    page.fill("#message textarea", "pain." * 4000)  # a 20,000-character paste
    page.click("#send")
    page.wait_for_function("() => document.querySelector('#chat-notice').innerText.includes('20,000 characters')")
    assert page.locator("#chatbot [data-testid=user]").count() == 0
    shot(page, "bad_input_long_message")
    assert ask(page, "I have a mild headache.").strip()
    assert page.inner_text("#chat-notice").strip() == ""

    page.click("#tab-batch-button")
    not_a_table = tmp_path / "scan.pdf"
    not_a_table.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    page.set_input_files("#batch-upload input[type=file]", str(not_a_table))
    page.click("#batch-run")
    page.wait_for_function("() => document.querySelector('#batch-status').innerText.includes('not a CSV or JSONL')")
    shot(page, "bad_input_file")

    page.click("#tab-settings-button")
    page.fill("#setting-url textarea, #setting-url input", "http://127.0.0.1:9/v1")
    page.click("#apply-settings")
    page.wait_for_function("() => document.querySelector('#status-panel').innerText.includes('not reachable')"
                           " && document.querySelector('#chat-status .mt-down')")
    shot(page, "settings_server_down")
    page.fill("#setting-url textarea, #setting-url input", "")
    page.click("#apply-settings")
    page.wait_for_function("() => document.querySelector('#status-panel .mt-ok')"
                           " && !document.querySelector('#status-panel .mt-down')")
    assert "passages" in page.inner_text("#status-panel")


def test_batch_upload_returns_a_results_file_with_the_same_row_count(page, tmp_path: Path) -> None:  # noqa: ANN001
    pytest.importorskip("agents.batch", reason="agents.batch (the triage engineer's run_batch) is not there yet")
    rows = []
    for name in ("emergency_en", "urgent_ko", "routine_en", "self_care_ko"):
        with (VIGNETTES / f"{name}.jsonl").open(encoding="utf-8") as handle:
            rows += [json.loads(line) for _, line in zip(range(2), handle, strict=False)]
    upload = tmp_path / "reports.csv"
    with upload.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows({"id": r["id"], "text": r["text"]} for r in rows)

    page.click("#tab-batch-button")
    page.set_input_files("#batch-upload input[type=file]", str(upload))
    page.click("#batch-run")
    page.wait_for_selector("#batch-results a", timeout=TURN_MS)
    assert f"{len(rows)} rows" in page.inner_text("#batch-status")
    with page.expect_download() as download:
        page.click("#batch-results a")
    with open(download.value.path(), encoding="utf-8", newline="") as handle:
        results = list(csv.DictReader(handle))
    assert len(results) == len(rows)
    page.wait_for_selector("#batch-chart canvas, #batch-chart svg")
    shot(page, "batch_results")
