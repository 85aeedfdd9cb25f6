"""A class graded on several machines: `embedlab grade --shard K/N`, then `embedlab grade --merge`.

A shard grades every N-th submission by name, from the K-th, so the N shares are equal, disjoint
and the same on every machine that sees the same class folder. Next to its gradebook CSV it
writes `<csv stem>-shard.json`: which share it was, the whole class's names, and what it graded
with. `--merge` joins the parts into the gradebook and results folder that one machine would have
written, and refuses a set of parts that is incomplete, overlapping or graded against different
kits — a gradebook with a hole in it is worse than none.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

SUFFIX = "-shard.json"


def write_part(out: Path, results_dir: Path, shard: tuple[int, int], names: dict[str, str], graded: list[str], settings) -> None:
    """The sidecar of one shard's gradebook: enough for `merge` to check the parts fit together."""
    from embedlab import __version__

    k, n = shard
    part = {
        "shard": k,
        "of": n,
        "class": sorted(names),
        "graded": graded,
        "results": {name: names[name] for name in graded},
        "results_dir": results_dir.resolve().relative_to(out.parent.resolve()).as_posix()
        if results_dir.resolve().is_relative_to(out.parent.resolve())
        else str(results_dir.resolve()),
        "kit_version": __version__,
        "cassettes": settings.cassettes,
    }
    out.with_name(out.stem + SUFFIX).write_text(json.dumps(part, indent=2) + "\n", encoding="utf-8")


def find_parts(paths: list[Path]) -> list[Path]:
    """The shard gradebooks among `paths`: CSV files, or folders searched for them (a download of
    every shard's artifact puts each in a folder of its own)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p.with_name(p.name.removesuffix(SUFFIX) + ".csv") for p in path.rglob("*" + SUFFIX))
        else:
            found.append(path)
    return list(dict.fromkeys(p.resolve() for p in found))


def merge(paths: list[Path], out: Path, results_dir: Path) -> int:
    parts = find_parts(paths)
    if not parts:
        print(f"embedlab grade --merge: no shard gradebooks (with their {SUFFIX}) in {', '.join(map(str, paths))}", file=sys.stderr)
        return 2
    try:
        loaded = [_load(part) for part in parts]
        _check(loaded)
    except ValueError as err:
        print(f"embedlab grade --merge: {err}", file=sys.stderr)
        return 2
    header = loaded[0]["header"]
    rows = sorted((row for part in loaded for row in part["rows"]), key=lambda row: row[0].removeprefix("'"))
    out.parent.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    from embedlab.instructor.gradebook import keep_out_of_git

    keep_out_of_git(results_dir)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    for part in loaded:
        for file in part["info"]["results"].values():
            shutil.copyfile(part["results_dir"] / file, results_dir / file)
    _similarity(loaded, out.parent)
    from embedlab.instructor import pages

    report = pages.write_report(out, results_dir, {name: file for part in loaded for name, file in part["info"]["results"].items()})
    first = loaded[0]["info"]
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row[1]] = statuses.get(row[1], 0) + 1
    print(
        f"merged {len(loaded)} shards: {len(rows)} submission{'' if len(rows) == 1 else 's'} ("
        + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        + f") of a class of {len(first['class'])}\ngradebook: {out}   results: {results_dir}/   report: {report}"
    )
    return 0


def _similarity(parts: list[dict], folder: Path) -> None:
    """The similarity report beside the merged gradebook: each shard compared the whole class, so
    the first part's is the class's (and the class report links to it)."""
    from embedlab.instructor import similarity

    names = (similarity.CSV_NAME, similarity.HTML_NAME)
    source = next((p["path"].parent for p in parts if all((p["path"].parent / n).is_file() for n in names)), None)
    for name in names:
        if source is None:
            (folder / name).unlink(missing_ok=True)  # none to copy: no stale one from another class
        elif (source / name).resolve() != (folder / name).resolve():
            shutil.copyfile(source / name, folder / name)


def _load(csv_path: Path) -> dict:
    sidecar = csv_path.with_name(csv_path.stem + SUFFIX)
    if not csv_path.is_file() or not sidecar.is_file():
        raise ValueError(f"{csv_path} is not a shard's gradebook (it needs {sidecar.name} beside it: grade with --shard K/N)")
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    with csv_path.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    results_dir = Path(info["results_dir"])
    if not results_dir.is_absolute():
        results_dir = csv_path.parent / results_dir
    missing = [f for f in info["results"].values() if not (results_dir / f).is_file()]
    if missing:
        raise ValueError(f"shard {info['shard']}/{info['of']}: its results folder {results_dir} lacks {', '.join(missing[:3])}")
    return {"path": csv_path, "info": info, "header": table[0], "rows": table[1:], "results_dir": results_dir}


def _check(parts: list[dict]) -> None:
    """The parts are one whole: the same class, kit and cassettes, every shard once, no one twice."""
    first = parts[0]["info"]
    for part in parts:
        info = part["info"]
        for key in ("of", "class", "kit_version", "cassettes"):
            if info[key] != first[key]:
                raise ValueError(f"{part['path']} was graded with a different {key.replace('_', ' ')} than {parts[0]['path']}")
        if part["header"] != parts[0]["header"]:
            raise ValueError(f"{part['path']} has different columns than {parts[0]['path']}")
    shards = sorted(part["info"]["shard"] for part in parts)
    expected = list(range(1, first["of"] + 1))
    if shards != expected:
        missing = sorted(set(expected) - set(shards))
        twice = sorted({s for s in shards if shards.count(s) > 1})
        of = first["of"]
        said = [f"missing {', '.join(f'{m}/{of}' for m in missing)}" if missing else "", f"given twice: {twice}" if twice else ""]
        raise ValueError("the shards do not make one class: " + "; ".join(filter(None, said)))
    graded = [name for part in parts for name in part["info"]["graded"]]
    if sorted(graded) != first["class"]:
        raise ValueError("the shards' submissions are not the class's: was the class folder the same on every machine?")
