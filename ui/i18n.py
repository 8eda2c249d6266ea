"""Korean and English UI text. ``t(key, lang)`` looks a string up; unknown languages fall back to English."""

from __future__ import annotations

LANGUAGES = ("en", "ko")

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "MedTriage — symptom check", "ko": "MedTriage — 증상 확인"},
    "disclaimer": {
        "en": "**Not medical advice.** This prototype runs on small local models and can be wrong. "
              "It does not diagnose. In an emergency call **119** now; for thoughts of self-harm call **109**.",
        "ko": "**의료 조언이 아닙니다.** 작은 로컬 모델로 동작하는 시제품이며 틀릴 수 있고 진단을 하지 않습니다. "
              "응급 상황이면 지금 **119**에 전화하세요. 자해·자살 생각이 들면 **109**에 전화하세요.",
    },
    "tab_chat": {"en": "Chat", "ko": "상담"},
    "tab_batch": {"en": "Batch", "ko": "일괄 분류"},
    "tab_settings": {"en": "Settings", "ko": "설정"},
    "chatbot": {"en": "Conversation", "ko": "대화"},
    "message": {"en": "Describe your symptoms", "ko": "증상을 설명해 주세요"},
    "placeholder": {
        "en": "e.g. I have had a fever and a sore throat since yesterday",
        "ko": "예: 어제부터 열이 나고 목이 아파요",
    },
    "send": {"en": "Send", "ko": "보내기"},
    "new_chat": {"en": "New conversation", "ko": "새 대화"},
    "download": {"en": "Download transcript", "ko": "대화 기록 내려받기"},
    "ui_language": {"en": "Language", "ko": "언어"},
    "triage": {"en": "Triage", "ko": "중증도 분류"},
    "sources": {"en": "Sources", "ko": "출처"},
    "trace": {"en": "What each agent did", "ko": "에이전트별 처리 내역"},
    "no_triage": {"en": "No assessment yet.", "ko": "아직 평가가 없습니다."},
    "no_sources": {"en": "No sources yet.", "ko": "아직 출처가 없습니다."},
    "no_trace": {"en": "No steps yet.", "ko": "아직 처리 내역이 없습니다."},
    "sources_error": {"en": "Sources unavailable: {error}", "ko": "출처를 가져오지 못했습니다: {error}"},
    "sources_none_relevant": {
        "en": "The knowledge base has nothing close enough to this question.",
        "ko": "지식 베이스에 이 질문과 충분히 가까운 자료가 없습니다.",
    },
    "red_flags": {"en": "Red flags", "ko": "위험 신호"},
    "banner_emergency": {
        "en": "This may be an emergency. Call 119 now or go to the nearest emergency department.",
        "ko": "응급 상황일 수 있습니다. 지금 바로 119에 전화하거나 가까운 응급실로 가세요.",
    },
    "banner_crisis": {
        "en": "If you are thinking about harming yourself, call the crisis line 109 now (24 hours), or 119.",
        "ko": "스스로를 해칠 생각이 든다면 지금 바로 자살예방 상담전화 109(24시간) 또는 119에 전화하세요.",
    },
    "agent": {"en": "Agent", "ko": "에이전트"},
    "total": {"en": "Total", "ko": "합계"},
    "tr_language": {"en": "detected {language}, answering in {answer}", "ko": "{language} 감지, {answer}로 답변"},
    "tr_sources": {"en": "{n} passages, best score {best:.2f}", "ko": "문단 {n}개, 최고 점수 {best:.2f}"},
    "tr_triage": {"en": "{label}, {flags} red flag(s)", "ko": "{label}, 위험 신호 {flags}개"},
    "tr_answer": {
        "en": "drafted {words} words with {model} (first token after {first:.1f} s)",
        "ko": "{model}로 {words}단어 초안 작성 (첫 토큰 {first:.1f}초)",
    },
    "tr_fallback": {"en": "templated answer ({reason})", "ko": "템플릿 답변 사용 ({reason})"},
    "tr_verify": {"en": "{ok} of {total} sentences supported", "ko": "문장 {total}개 중 {ok}개 근거 확인"},
    "did": {"en": "What it did", "ko": "한 일"},
    "seconds": {"en": "Seconds", "ko": "초"},
    "empty_message": {"en": "Please type a message first.", "ko": "먼저 메시지를 입력해 주세요."},
    "busy": {
        "en": "Please wait for the answer to your previous message.",
        "ko": "이전 메시지에 대한 답변이 끝날 때까지 기다려 주세요.",
    },
    "too_long": {
        "en": "Your message has {n:,} characters; the limit is {limit:,}. Please shorten it to the main symptoms.",
        "ko": "메시지가 {n:,}자입니다. 최대 {limit:,}자까지 보낼 수 있으니 주요 증상 위주로 줄여 주세요.",
    },
    "backend_error": {
        "en": "Sorry, the answer could not be produced: {error}",
        "ko": "죄송합니다. 답변을 만들지 못했습니다: {error}",
    },
    "not_ready": {
        "en": "The assistant is not ready yet ({state}); see Settings → Status, then try again.",
        "ko": "상담 도우미가 아직 준비되지 않았습니다({state}). 설정 → 상태를 확인한 뒤 다시 시도하세요.",
    },
    # batch tab
    "batch_intro": {
        "en": "Upload a CSV or JSONL file of self-reports (one per row, with a `text` column or field). "
              "Each row is triaged without the language model; download the results when done.",
        "ko": "자가 보고 CSV 또는 JSONL 파일을 올리세요(한 행에 하나, `text` 열 또는 필드). "
              "각 행은 언어 모델 없이 분류되며, 끝나면 결과를 내려받을 수 있습니다.",
    },
    "batch_file": {"en": "Self-reports (CSV or JSONL)", "ko": "자가 보고 파일 (CSV 또는 JSONL)"},
    "batch_run": {"en": "Run triage", "ko": "분류 실행"},
    "batch_results": {"en": "Results", "ko": "결과"},
    "batch_chart": {"en": "Rows per triage level", "ko": "중증도별 행 수"},
    "batch_no_file": {"en": "Choose a CSV or JSONL file first.", "ko": "먼저 CSV 또는 JSONL 파일을 선택하세요."},
    "batch_bad_type": {
        "en": "“{name}” is not a CSV or JSONL file. Upload a .csv or .jsonl file with one self-report per row.",
        "ko": "“{name}” 파일은 CSV나 JSONL이 아닙니다. 한 행에 자가 보고 하나씩 담긴 .csv 또는 .jsonl 파일을 올리세요.",
    },
    "batch_empty": {"en": "“{name}” is empty.", "ko": "“{name}” 파일이 비어 있습니다."},
    "batch_failed": {"en": "The batch could not run: {error}", "ko": "일괄 분류를 실행하지 못했습니다: {error}"},
    "batch_done": {
        "en": "Done: {rows} rows triaged in {seconds:.1f} s.",
        "ko": "완료: {rows}행을 {seconds:.1f}초 만에 분류했습니다.",
    },
    "batch_progress": {"en": "Triaging rows", "ko": "행 분류 중"},
    # settings tab
    "settings_intro": {
        "en": "Settings are shared by every open session of this app and apply to new conversations. "
              "Leave the URL empty to use the server the app started with.",
        "ko": "설정은 이 앱의 모든 세션이 함께 쓰며 새 대화부터 적용됩니다. "
              "URL을 비워 두면 앱이 시작한 서버를 사용합니다.",
    },
    "profile": {
        "en": "Model (served id; empty = the first one the server lists)",
        "ko": "모델 (서버가 제공하는 모델 ID, 비우면 첫 번째)",
    },
    "server_url": {"en": "Model server URL (OpenAI-compatible)", "ko": "모델 서버 URL (OpenAI 호환)"},
    "top_k": {"en": "Passages to retrieve (top-k)", "ko": "검색할 문단 수 (top-k)"},
    "cache": {"en": "Cache model answers", "ko": "모델 답변 캐시 사용"},
    "apply": {"en": "Apply", "ko": "적용"},
    "refresh": {"en": "Check status", "ko": "상태 확인"},
    "applied": {
        "en": "Settings applied; they take effect from the next new conversation.",
        "ko": "설정을 적용했습니다. 다음 새 대화부터 반영됩니다.",
    },
    "bad_url": {
        "en": "“{url}” is not a URL; use e.g. http://127.0.0.1:8080/v1, or leave it empty for the embedded server.",
        "ko": "“{url}”은(는) URL이 아닙니다. 예: http://127.0.0.1:8080/v1 (비워 두면 내장 서버 사용).",
    },
    "settings_failed": {"en": "Settings not applied: {error}", "ko": "설정을 적용하지 못했습니다: {error}"},
    "status": {"en": "Status", "ko": "상태"},
    "model_server": {"en": "Model server", "ko": "모델 서버"},
    "knowledge_base": {"en": "Knowledge base", "ko": "지식 베이스"},
    "kb_building": {
        "en": "building from the bundled corpus (first use, a few minutes)…",
        "ko": "내장 자료로 구축 중입니다 (처음 한 번, 몇 분 걸립니다)…",
    },
    "kb_ready": {"en": "ready, {count:,} passages", "ko": "준비됨, 문단 {count:,}개"},
    "kb_failed": {"en": "unavailable: {error}", "ko": "사용할 수 없음: {error}"},
    "server_up": {"en": "up at {url} (model {model})", "ko": "{url}에서 동작 중 (모델 {model})"},
    "server_starting": {
        "en": "starting (the embedded llama.cpp server, or connecting to the given URL)…",
        "ko": "시작 중입니다 (내장 llama.cpp 서버 시작 또는 지정한 URL에 연결)…",
    },
    "waiting": {"en": "waiting for the knowledge base…", "ko": "지식 베이스를 기다리는 중…"},
    "start_failed": {"en": "could not start: {error}", "ko": "시작하지 못했습니다: {error}"},
    "server_busy": {
        "en": "busy at {url} (slow to answer while it generates; check again in a moment)",
        "ko": "{url}에서 처리 중 (답변을 만드는 동안 응답이 느립니다. 잠시 후 다시 확인하세요)",
    },
    "server_down": {
        "en": "down — {error}. Start the server, or set another URL in Settings.",
        "ko": "사용할 수 없음 — {error}. 서버를 시작하거나 설정에서 다른 URL을 지정하세요.",
    },
}


def t(key: str, lang: str = "en", **values: object) -> str:
    """The string ``key`` in ``lang`` (English for anything but Korean), formatted with ``values``."""
    entry = STRINGS[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def ui_language(choice: str, detected: str | None, current: str) -> str:
    """The language the UI should use: an explicit choice ("en"/"ko") wins; "auto" follows the user's message."""
    if choice in LANGUAGES:
        return choice
    if detected in LANGUAGES:
        return detected
    return current
