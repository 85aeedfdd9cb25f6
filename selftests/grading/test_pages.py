"""The picture pages, written by the real commands and loaded in a real browser.

`embedlab grade` (and `--merge`) writes grades-report.html; `embedlab map` writes map.html. Each is
opened from disk in headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
Selenium) with JavaScript off; the screenshot is not blank and has the window's size; the numbers
read back from the rendered DOM equal the gradebook CSV's (report) and numpy's cosines of the
recorded vectors (map). A submission named like markup, an exception message that closes the SVG
and opens a script, and a learner's sentence made of markup show as text: no element, no dialog
(checked once more with JavaScript on). Where Chromium is missing, the browser tests skip with
one line; the rest still checks the pages' HTML.

`EMBEDLAB_DOCS_SCREENSHOTS=docs pytest selftests/grading/test_pages.py` also saves the two
screenshots there.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
import statistics
import struct
import time
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from embedlab import course

from .conftest import ROOT, SETS, clean_env, run_cli
from .submissions import build

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WINDOW = (1200, 900)
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_MESSAGE = "</svg><script>alert(2)</script>"
CAT_TEXT = "A feline rested on the rug."  # recorded alone, so --offline can draw it
SHOTS = os.environ.get("EMBEDLAB_DOCS_SCREENSHOTS")
# Chromium is not Python, so the loopback guard cannot see it: it is told to reach nothing at all —
# every name unresolvable, every request through a closed loopback port, no background services.
OFFLINE = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
)


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"no headless browser here: Debian's {package} is not installed (.ci/run installs it)"
    return None


def start_browser(javascript: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # a given browser and driver: Selenium downloads nothing
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}", *OFFLINE):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(5)
    return driver


@pytest.fixture(scope="module")
def browser():
    why = _browser_missing()
    if why:
        pytest.skip(why)
    driver = start_browser()
    try:
        driver.get("data:text/html,")
        driver.blank_png = len(driver.get_screenshot_as_png())  # what "blank" weighs here
        yield driver
    finally:
        driver.quit()


def load(driver, page: Path, shot: str | None = None):
    """Open `page` from disk; check its screenshot is the window's size and not blank."""
    from selenium.webdriver.common.by import By

    driver.get(page.resolve().as_uri())
    assert driver.find_elements(By.TAG_NAME, "h1"), f"{page.name} did not render"
    png = driver.get_screenshot_as_png()
    width, height = struct.unpack(">II", png[16:24])
    assert width == WINDOW[0] and WINDOW[1] - 200 <= height <= WINDOW[1], (width, height)
    assert len(png) > 4 * driver.blank_png, f"{page.name}'s screenshot looks blank ({len(png)} bytes)"
    if SHOTS and shot:
        save_screenshot(driver, Path(SHOTS) / shot)
    return driver


def save_screenshot(driver, path: Path, tallest: int = 1500) -> None:
    """A docs screenshot (docs/learners.md, docs/instructors.md): the page's top `tallest` pixels, in 256 colours to stay small
    (Pillow comes with sentence-transformers)."""
    import io

    from PIL import Image

    height = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    driver.set_window_size(WINDOW[0], min(int(height) + 140, tallest))  # the window's chrome takes some
    try:
        png = driver.get_screenshot_as_png()
    finally:
        driver.set_window_size(*WINDOW)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    assert path.stat().st_size < 200_000, f"{path} is {path.stat().st_size:,} bytes"


def no_markup_from_outside(driver) -> None:
    from selenium.webdriver.common.by import By

    for tag in ("img", "script", "iframe", "object", "embed"):
        assert driver.find_elements(By.TAG_NAME, tag) == [], f"the page made a <{tag}> element"


# -- the class report ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> dict:
    """A small class graded by `embedlab grade --shard 1/1` (so it can be merged), then merged."""
    base = tmp_path_factory.mktemp("report")
    folder = base / "class"
    build(folder / "alice", ROOT / "solutions", {})
    build(folder / "bob", ROOT / "exercises", {})
    build(folder / "carol", ROOT / "solutions", {"similarity.py": "def cosine(a, b):\n    return 1.0\n"})
    hostile = build(folder / HOSTILE_NAME, ROOT / "solutions", {"similarity.py": f"def cosine(a, b):\n    raise ValueError({HOSTILE_MESSAGE!r})\n"})
    (hostile / "tests").mkdir()
    (hostile / "tests" / "test_1_embed.py").write_text("# edited\n")  # flagged: ships edited tests
    graded = run_cli("grade", str(folder), "--shard", "1/1", "--out", str(base / "one" / "grades.csv"), "--jobs", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    merged = run_cli("grade", "--merge", str(base / "one"), "--out", str(base / "merged" / "grades.csv"))
    assert merged.returncode == 0, merged.stdout + merged.stderr
    with (base / "one" / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "base": base, "page": base / "one" / "grades-report.html", "merged": base / "merged" / "grades-report.html", "rows": rows,
        "said": graded.stdout, "merge_said": merged.stdout,
    }  # fmt: skip


def test_grade_and_merge_name_the_report_they_wrote(klass):
    """Issue 28, item 9: the closing line names the HTML page beside the gradebook and results."""
    assert f"report: {klass['page']}" in klass["said"], klass["said"]
    assert f"report: {klass['merged']}" in klass["merge_said"], klass["merge_said"]


def test_grade_and_merge_write_the_same_report_beside_the_gradebook(klass):
    page = klass["page"].read_text(encoding="utf-8")
    assert klass["merged"].read_text(encoding="utf-8") == page
    assert "<script" not in page.lower() and "fetch(" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert HOSTILE_NAME not in page and HOSTILE_MESSAGE not in page  # only escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_report_in_a_browser_says_what_the_gradebook_says(klass, browser):
    from selenium.webdriver.common.by import By

    rows = klass["rows"]
    load(browser, klass["page"])
    summary = browser.find_element(By.ID, "summary")
    graded = [r for r in rows if r["status"] == "graded"]
    assert int(summary.get_attribute("data-submissions")) == len(rows) == 4
    assert int(summary.get_attribute("data-graded")) == len(graded) == 4
    scores = [float(r["score"]) for r in graded]
    assert browser.find_element(By.ID, "mean").text == f"{statistics.fmean(scores):.1f}"
    possible = float(rows[0]["max_score"])
    step = math.ceil(possible / 10)  # whole points wide, at most ten bars
    counts = [0] * math.ceil(possible / step)
    for score in scores:
        counts[min(int(score // step), len(counts) - 1)] += 1
    bars = browser.find_elements(By.CSS_SELECTOR, "#distribution g.bar")
    assert [int(b.get_attribute("data-count")) for b in bars] == counts
    names = course.load().names
    assert [n for n in rows[0] if n in names] == names  # the gradebook's columns, in the course's order
    shown = browser.find_elements(By.CSS_SELECTOR, "#exercises tr[data-exercise]")
    assert [r.get_attribute("data-exercise") for r in shown] == names  # the course's order
    full = {r["submission"]: r for r in rows}["alice"]  # the solutions: every exercise's points
    for row in shown:
        name = row.get_attribute("data-exercise")
        cells = {c.get_attribute("data-state"): int(c.text) for c in row.find_elements(By.CSS_SELECTOR, "td[data-state]")}
        assert cells["done"] == sum(r[name] == full[name] for r in graded), name
        assert cells["not started"] == 1  # bob: the stubs
        assert sum(cells.values()) == len(rows)
        mean = row.find_element(By.CSS_SELECTOR, "td[data-mean]").get_attribute("data-mean")
        assert mean == f"{statistics.fmean(float(r[name]) for r in graded):.2f}", name
    catalogue = course.load()
    for cell in browser.find_elements(By.CSS_SELECTOR, "#exercises th[data-part]"):  # a course in parts: each part's subtotal
        mine = [e.name for e in catalogue.exercises if e.part == cell.get_attribute("data-part")]
        assert cell.text.split(" / ")[0] == f"{statistics.fmean(sum(float(r[n]) for n in mine) for r in graded):.2f}"
    listed = browser.find_elements(By.CSS_SELECTOR, "#mistakes > li")
    by_kind = {li.get_attribute("data-kind"): li for li in listed}
    assert {a.text for a in by_kind["wrong value"].find_elements(By.CSS_SELECTOR, ".who a")} <= {"carol"}  # returns 1.0
    assert {a.text for a in by_kind["raised"].find_elements(By.CSS_SELECTOR, ".who a")} == {HOSTILE_NAME}  # raises: another mistake
    first = listed[0]
    link = first.find_element(By.CSS_SELECTOR, ".who a").get_attribute("href")
    assert link.startswith("file://") and Path(unquote(link.removeprefix("file://"))).is_file()  # that learner's results file
    assert browser.find_element(By.ID, "notgraded").get_attribute("data-count") == "0"
    assert HOSTILE_NAME in browser.find_element(By.ID, "flagged").text


def test_the_exercise_bars_stay_on_one_line(klass, browser):
    """Issue 28, item 8: each exercise's bar of states is one line high, its parts side by side."""
    from selenium.webdriver.common.by import By

    load(browser, klass["page"])
    stacks = browser.find_elements(By.CSS_SELECTOR, "#exercises .stack")
    assert len(stacks) == len(course.load().names)
    for stack in stacks:
        parts = stack.find_elements(By.CSS_SELECTOR, "span")
        assert stack.size["height"] == 12 and all(p.size["height"] == 12 for p in parts), stack.get_attribute("outerHTML")
        assert len({p.location["y"] for p in parts}) <= 1, stack.get_attribute("outerHTML")  # never a second line


def test_the_most_common_mistakes_are_mistakes_not_checks():
    """Issue 28, item 8: a syntax error is one mistake of its file (not a pickle mistake of each
    check it stopped), a time-out is apart from a wrong value of the same checks, one learner's
    one mistake is one entry, and real mistakes are not folded under it."""
    from embedlab.instructor import pages

    def check(exercise, title, message, **extra):
        return {"extra_data": {"exercise": exercise, "title": title, "embedlab_status": "failed", "message": message, **extra}}

    syntax = "exercises/applications.py has a SyntaxError: expected ':' (line 12)"
    stopped = [check("vector_store", t, f"VectorStore(path) cannot run: exercises/applications.py, which does not import: {syntax}", broken="exercises/applications.py")
               for t in ("add() embeds only new texts", "stores float32 bytes, not pickle", "another model is refused", "len", "search", "reopened")]  # fmt: skip
    timeout = [check("cosine", t, "Stopped after 2 s: cosine([1, 0], [2, 0]) was still running exercises/similarity.py, line 9, in cosine")
               for t in ("same direction scores one", "matches the formula")]  # fmt: skip
    plain_dot = [check("cosine", "same direction scores one", f"cosine([1, 0], [{n}, 0]) returned {n}.0; it should be 1.0: divide by both lengths") for n in (2, 3)]
    raised = [check("rank", "gives every doc a score", "rank('q', docs) raised TypeError: unsupported operand", raised="TypeError")]
    entries = [
        pages.Entry("ann", "ann.json", "graded", 10, 88, tests=stopped),
        pages.Entry("ben", "ben.json", "graded", 10, 88, tests=timeout),
        pages.Entry("cat", "cat.json", "graded", 10, 88, tests=plain_dot[:1] + raised),
        pages.Entry("dan", "dan.json", "graded", 10, 88, tests=plain_dot[1:]),
    ]
    found = pages.mistakes(course.load(), entries)
    said = {(m.exercise, m.kind): sorted(n for n, _ in m.names) for m in found}
    assert said == {
        ("exercises/applications.py", "syntax error"): ["ann"],
        ("cosine", "timeout"): ["ben"],
        ("cosine", "wrong value"): ["cat", "dan"],
        ("rank", "raised"): ["cat"],
    }, said
    assert found[0].kind == "wrong value"  # two learners: first
    html = pages._mistakes(course.load(), entries)
    assert "pickle" not in html and "more mistakes" not in html


def test_hostile_names_and_messages_make_no_element_and_no_dialog(klass, browser):
    from selenium.webdriver.common.by import By

    load(browser, klass["page"])
    no_markup_from_outside(browser)
    assert len(browser.find_elements(By.TAG_NAME, "svg")) == 1
    assert any(HOSTILE_MESSAGE in quote.text for quote in browser.find_elements(By.TAG_NAME, "blockquote"))
    no_dialog_with_javascript_on(klass["page"])


def no_dialog_with_javascript_on(page: Path) -> None:
    """Even with JavaScript on, nothing on the page runs."""
    from selenium.common.exceptions import NoAlertPresentException

    scripted = start_browser(javascript=True)
    try:
        scripted.get(page.resolve().as_uri())
        time.sleep(0.5)  # an <img onerror> would have fired by now
        with pytest.raises(NoAlertPresentException):
            scripted.switch_to.alert.text  # noqa: B018
        no_markup_from_outside(scripted)
    finally:
        scripted.quit()


def test_a_class_of_a_thousand_stays_small_and_renders(klass, browser, tmp_path):
    """1,000 results files made synthetically from the real class's (each exercise's checks taken
    from one of its learners): a page of bounded size that still renders and counts right."""
    from selenium.webdriver.common.by import By

    from embedlab.instructor import pages

    results = klass["base"] / "one" / "grades-results"
    templates = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    templates = [t for t in templates if t["extra_data"]["status"] == "graded" and HOSTILE_MESSAGE not in json.dumps(t)]
    exercises = list(templates[0]["extra_data"]["exercises"])
    folder = tmp_path / "grades-results"
    folder.mkdir()
    rng = random.Random(19)
    files, statuses = {}, {"graded": 0, "timeout": 0}
    for i in range(1000):
        picks = {name: rng.choice(templates[:1] * 3 + templates) for name in exercises}
        tests = [t for name in exercises for t in picks[name]["tests"] if t["extra_data"]["exercise"] == name]
        timed_out = i % 97 == 5
        data = {
            "score": 0 if timed_out else sum(picks[n]["extra_data"]["exercises"][n]["score"] for n in exercises),
            "max_score": templates[0]["max_score"],
            "tests": tests,
            "extra_data": {
                "exercises": {n: picks[n]["extra_data"]["exercises"][n] for n in exercises},
                "status": "timeout" if timed_out else "graded",
                "flags": ["imports solutions (similarity.py)"] if i % 50 == 3 else [],
                "reason": "stopped after 120 s" if timed_out else "",
            },
        }
        statuses[data["extra_data"]["status"]] += 1
        name = HOSTILE_NAME if i == 7 else f"learner-{i:04d}"
        files[name] = f"learner-{i:04d}.json"
        (folder / files[name]).write_text(json.dumps(data), encoding="utf-8")
    page = pages.write_report(tmp_path / "grades.csv", folder, files)
    assert page.stat().st_size < 250_000, f"{page.stat().st_size:,} bytes"
    load(browser, page, shot="grades-report.png")
    summary = browser.find_element(By.ID, "summary")
    assert summary.get_attribute("data-submissions") == "1000"
    assert int(summary.get_attribute("data-graded")) == statuses["graded"]
    bars = browser.find_elements(By.CSS_SELECTOR, "#distribution g.bar")
    assert sum(int(b.get_attribute("data-count")) for b in bars) == statuses["graded"]
    stopped = browser.find_elements(By.CSS_SELECTOR, "#exercises td[data-state='stopped']")
    assert {int(c.text) for c in stopped} == {statuses["timeout"]}
    assert browser.find_element(By.ID, "notgraded").get_attribute("data-count") == str(statuses["timeout"])
    assert browser.find_element(By.ID, "flagged").get_attribute("data-count") == "20"
    no_markup_from_outside(browser)


# -- the map -------------------------------------------------------------------------------------


def recorded_vectors(set_name: str, texts: list[str]) -> np.ndarray:
    """The vectors a cassette recorded for exactly `texts` (else for each text alone, as the map
    then asks), read straight from the YAML."""
    try:
        return recorded_request(set_name, texts)
    except AssertionError:
        if len(texts) == 1:
            raise
        return np.vstack([recorded_request(set_name, [t]) for t in texts])


def recorded_request(set_name: str, texts: list[str]) -> np.ndarray:
    import yaml

    for path in sorted((ROOT / "cassettes" / set_name).glob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
            body = interaction["request"]["body"]["json"]
            asked = body["input"] if isinstance(body["input"], list) else [body["input"]]
            if asked == texts:
                data = json.loads(interaction["response"]["body"]["string"])["data"]
                return np.array([item["embedding"] for item in sorted(data, key=lambda item: item["index"])], dtype=np.float64)
    raise AssertionError(f"{set_name} has no recording of {texts}")


def numpy_cosines(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    return (vectors @ vectors.T) / np.outer(norms, norms)


def section_texts() -> list[str]:
    from embedlab.section import DOCS, DOG, QUERY

    return [*DOCS, DOG, QUERY]


@pytest.fixture(scope="module", params=SETS)
def reference_map(request, tmp_path_factory) -> dict:
    """`embedlab map --offline` with the kit's stubs: the reference computation draws it."""
    out = tmp_path_factory.mktemp("map") / "map.html"
    done = run_cli("map", "--offline", "--cassettes", request.param, "--text", CAT_TEXT, "--text", HOSTILE_NAME, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Not in the recordings" in done.stdout and HOSTILE_NAME in done.stdout
    vectors = np.vstack([recorded_vectors(request.param, section_texts()), recorded_vectors(request.param, [CAT_TEXT])])
    return {"page": out, "cosines": numpy_cosines(vectors), "texts": [*section_texts(), CAT_TEXT], "set": request.param}


@pytest.fixture(scope="module")
def learners_map(tmp_path_factory) -> dict:
    """`embedlab map --offline` on a learner's finished exercises (the solutions, copied)."""
    base = tmp_path_factory.mktemp("mine")
    shutil.copytree(ROOT / "solutions", base / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    out = base / "map.html"
    done = run_cli("map", "--offline", "--exercises", str(base / "exercises"), "--text", CAT_TEXT, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    set_name = SETS[0] if "all-MiniLM-L6-v2" not in SETS else "all-MiniLM-L6-v2"
    vectors = np.vstack([recorded_vectors(set_name, section_texts()), recorded_vectors(set_name, [CAT_TEXT])])
    return {"page": out, "cosines": numpy_cosines(vectors), "texts": [*section_texts(), CAT_TEXT]}


def read_map(driver) -> tuple[np.ndarray, list[tuple[float, int]], str]:
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, "#heatmap td[data-i]")
    n = int(len(cells) ** 0.5)
    shown = np.zeros((n, n))
    for cell in cells:
        shown[int(cell.get_attribute("data-i")) - 1, int(cell.get_attribute("data-j")) - 1] = float(cell.text)
    ranking = [
        (float(row.find_element(By.CSS_SELECTOR, "td.score").text), int(row.get_attribute("data-index")) - 1)
        for row in driver.find_elements(By.CSS_SELECTOR, "#ranking tr[data-index]")
    ]
    return shown, ranking, driver.find_element(By.ID, "drawn-with").text


def check_numbers(driver, expected: np.ndarray, texts: list[str]) -> None:
    from selenium.webdriver.common.by import By

    shown, ranking, _ = read_map(driver)
    assert shown.shape == expected.shape
    np.testing.assert_allclose(shown, expected, atol=6e-4)
    query = texts.index(section_texts()[-1])
    order = sorted((i for i in range(len(texts)) if i != query), key=lambda i: -expected[query, i])
    assert [i for _, i in ranking] == order
    np.testing.assert_allclose([s for s, _ in ranking], [expected[query, i] for i in order], atol=6e-4)
    points = driver.find_elements(By.CSS_SELECTOR, "#scatter g.point")
    assert len(points) == len(texts)
    assert "only approximate the cosines" in driver.find_element(By.TAG_NAME, "body").text


def test_the_map_drawn_by_the_reference_shows_numpys_cosines(reference_map, browser):
    from selenium.webdriver.common.by import By

    load(browser, reference_map["page"])
    check_numbers(browser, reference_map["cosines"], reference_map["texts"])
    _, _, drawn_with = read_map(browser)
    assert "reference computation" in drawn_with and "not started" in drawn_with
    note = browser.find_element(By.ID, "not-recorded").text
    assert HOSTILE_NAME in note and "drop --offline" in note
    no_markup_from_outside(browser)


def test_the_map_drawn_by_the_learners_own_functions(learners_map, browser):
    load(browser, learners_map["page"], shot="map.png")
    check_numbers(browser, learners_map["cosines"], learners_map["texts"])
    _, _, drawn_with = read_map(browser)
    assert "your own embed() and cosine()" in drawn_with


def test_the_map_page_holds_no_script_and_escapes_the_learners_text(reference_map):
    page = reference_map["page"].read_text(encoding="utf-8")
    assert "<script" not in page.lower() and HOSTILE_NAME not in page and "&lt;img src=x" in page


def test_map_without_an_endpoint_says_how_to_get_one(tmp_path):
    done = run_cli("map", "--out", str(tmp_path / "map.html"), cwd=tmp_path)
    assert done.returncode == 2 and "EMBED_MODEL" in done.stderr and "--offline" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "map.html").exists()


def test_the_map_table_of_the_catalogue_is_checked_in_one_sentence(tmp_path):
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    for change, sentence in (
        (('similarity = "similarity:cosine"', 'similarity = "similarity:nowhere"'), "[map]: similarity = 'similarity:nowhere' is no exercise's"),
        (('similarity = "similarity:cosine"', 'similarity = "cosine"'), '[map]: similarity must name an exercise\'s module and one of its functions'),
        (("[map]\n", '[map]\ncolour = "red"\n'), "[map] has a key this kit does not know: 'colour'"),
    ):
        (tmp_path / "course.toml").write_text(text.replace(*change), encoding="utf-8")
        with pytest.raises(course.CourseError) as refused:
            course.parse(tmp_path / "course.toml").check(ROOT)
        assert sentence in str(refused.value) and len(str(refused.value).splitlines()) == 1


def test_the_map_through_a_live_endpoint_draws_any_text(local_server, tmp_path, browser):
    """Not --offline: the endpoint in the environment (here `embedlab serve`) embeds the section's
    texts and the learner's own in one request; the heatmap is numpy's cosines of its vectors."""
    from embedlab.section import DOCS, DOG, QUERY

    mine = "My cat sleeps all day"
    hostile = HOSTILE_MESSAGE + HOSTILE_NAME  # drawn this time: in the SVG, the heatmap and the ranking
    out = tmp_path / "map.html"
    done = run_cli("map", "--text", mine, "--text", hostile, "--out", str(out), env=clean_env(**local_server.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    import httpx2

    texts = [*DOCS, DOG, QUERY, mine, hostile]
    answer = httpx2.post(local_server.base_url + "/embeddings", json={"model": local_server.model, "input": texts}, timeout=30).json()
    vectors = np.array([item["embedding"] for item in sorted(answer["data"], key=lambda item: item["index"])], dtype=np.float64)
    load(browser, out)
    check_numbers(browser, numpy_cosines(vectors), texts)
    assert "from your endpoint" in browser.find_element("tag name", "body").text
    no_markup_from_outside(browser)
    assert len(browser.find_elements("tag name", "svg")) == 1
    assert hostile in browser.find_element("id", "ranking").text
    no_dialog_with_javascript_on(out)


def test_a_class_of_one_and_an_unreadable_results_file(klass, tmp_path):
    """The smallest class still makes a whole page; a results file that is not JSON is counted, not fatal."""
    from embedlab.instructor import pages

    folder = tmp_path / "grades-results"
    folder.mkdir()
    first = sorted((klass["base"] / "one" / "grades-results").glob("*.json"))[0]
    shutil.copyfile(first, folder / "ada.json")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    (folder / "odd.json").write_text(json.dumps({"score": "many", "tests": "none", "extra_data": []}), encoding="utf-8")
    page = pages.write_report(tmp_path / "grades.csv", folder, {"ada": "ada.json", "zed": "broken.json", "odd": "odd.json"}).read_text(encoding="utf-8")
    assert 'data-submissions="2"' in page and "1 results file(s) could not be read" in page
    assert page.rstrip().endswith("</html>") and page.count("<svg") == 1


def test_exercises_waiting_on_a_broken_file_are_counted_as_waiting(tmp_path):
    """An embed.py that does not import: embed fails, and the exercises whose files import it wait."""
    folder = tmp_path / "class"
    build(folder / "dave", ROOT / "solutions", {"embed.py": "def embed(texts:\n"})
    graded = run_cli("grade", str(folder), "--out", str(tmp_path / "grades.csv"))
    assert graded.returncode == 0, graded.stdout + graded.stderr
    page = (tmp_path / "grades-report.html").read_text(encoding="utf-8")
    rows = {}
    for row in page.split('<tr data-exercise="')[1:]:
        name = row.split('"', 1)[0]
        rows[name] = {state: row.split(f'data-state="{state}">', 1)[1].split("<", 1)[0] for state in ("failing", "waiting", "not started")}
    assert rows["embed"]["failing"] == "1" and rows["embed"]["waiting"] == "0", rows
    for name in ("cosine", "rank", "top_k"):  # similarity.py and applications.py import embed.py
        assert rows[name]["waiting"] == "1" and rows[name]["not started"] == "0", (name, rows)
    assert '<span class="pill waiting">waiting</span>' in page


def test_map_against_an_endpoint_that_is_not_there_says_so_at_once(tmp_path):
    done = run_cli("map", "--out", str(tmp_path / "map.html"), env=clean_env(OPENAI_BASE_URL="http://127.0.0.1:9/v1", EMBED_MODEL="m"))
    assert done.returncode == 1 and "nothing answers at OPENAI_BASE_URL" in done.stderr and "--offline" in done.stderr
    assert not (tmp_path / "map.html").exists()


def test_the_map_shows_commands_as_code_and_stays_out_of_git(tmp_path):
    """Issue 28, item 7 (in part): no literal backticks on the page ("run `pytest`" is a <code>),
    and map.html, which `embedlab map` writes in the kit, is ignored by git."""
    from embedlab import pictures

    assert pictures.prose("run `pytest` <now>") == "run <code>pytest</code> &lt;now&gt;"
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "map.html"
    done = run_cli("map", "--offline", "--exercises", str(tmp_path / "exercises"), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    page = out.read_text(encoding="utf-8")
    assert "`" not in page and "<code>pytest</code>" in page, page[:2000]
    assert "map.html" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
