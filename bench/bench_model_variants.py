"""Are the test-time mirror and the four networks worth their cost? (issue 17)

    .venv/bin/python bench/bench_model_variants.py [--model-artifact model.tar.gz] [--passes 5]

Cuts variants out of the shipped ONNX graph (no retraining): the graph computes one logit
branch per (network, view), stacks them, averages, multiplies by 1/temperature and applies
softmax. A variant keeps a subset of the branches feeding that same average, so temperature and
softmax are the shipped nodes, unchanged. Each variant is loaded with the model server's own
model_fn (same onnxruntime session options) and scored on the 200 test images with predict_fn at
Settings().threshold. Latency is session.run alone at batch 1, pooled over --passes passes of
the 200 images after warm-up. Prints a table and writes bench/results/model_variants.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from figures import percentile, write_figures  # bench/figures.py (this folder is on sys.path)
from onnx import numpy_helper
from PIL import Image
from rich.console import Console
from rich.table import Table

from harness.config import Settings
from harness.dataset import listed_images
from harness.model_server.artifact import METADATA_FILE, MODEL_FILE, unpack_artifact
from harness.model_server.inference import Model, model_fn, predict_fn
from harness.model_server.preprocess import to_input

SHIPPED = "4 nets + mirror"


class CannotSplit(Exception):
    """The graph is not the shape ServingModel exports; the reason is reported, not guessed around."""


def _const(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def split_branches(model: onnx.ModelProto) -> tuple[onnx.NodeProto, list[dict]]:
    """The Concat that stacks the branch logits, and one entry per branch: which Unsqueeze output
    feeds the Concat, which network (by the weights it reads) and whether it sees the mirror."""
    g = model.graph
    producer = {out: n for n in g.node for out in n.output}
    initializers = {i.name for i in g.initializer}
    # expected tail: Concat(axis 0) -> ReduceMean(axes [0]) -> Mul(1/T) -> Softmax -> output
    chain = []
    name = g.output[0].name
    for op in ("Softmax", "Mul", "ReduceMean", "Concat"):
        node = producer.get(name)
        if node is None or node.op_type != op:
            got = node.op_type if node else "a graph input"
            raise CannotSplit(f"expected {op} before {name!r}, found {got}")
        chain.append(node)
        name = node.input[0]
    concat, mean = chain[3], chain[2]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in mean.attribute}
    if list(attrs.get("axes", [])) != [0] or attrs.get("keepdims", 1) != 0:
        raise CannotSplit(f"ReduceMean is not the plain average over the stack: {attrs}")

    def ancestors(tensor: str) -> set[str]:
        seen, todo = set(), [tensor]
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            if t in producer:
                todo.extend(producer[t].input)
        return seen

    branches = []
    for stacked in concat.input:
        unsq = producer.get(stacked)
        if unsq is None or unsq.op_type != "Unsqueeze":
            raise CannotSplit(f"Concat input {stacked!r} is not an Unsqueeze of one branch")
        tensors = ancestors(unsq.input[0])
        weights = frozenset(t for t in tensors if t in initializers and "temperature" not in t)
        producers = {producer[t].name: producer[t] for t in tensors if t in producer}
        flips = [n for n in producers.values() if n.op_type == "Slice"]
        mirror = False
        for node in flips:
            axes, steps = _const(g, node.input[3]), _const(g, node.input[4])
            if node.input[0] != g.input[0].name or list(axes) != [3] or list(steps) != [-1]:
                raise CannotSplit(
                    f"{node.name} is a Slice but not the horizontal flip of the input"
                )
            mirror = True
        branches.append({"stacked": stacked, "weights": weights, "mirror": mirror})
    members = list(dict.fromkeys(b["weights"] for b in branches))  # in graph order
    if any(a & b for i, a in enumerate(members) for b in members[i + 1 :]):
        raise CannotSplit("networks share weights, so a member cannot be cut out on its own")
    for b in branches:
        b["member"] = members.index(b["weights"])
    views = {(b["member"], b["mirror"]) for b in branches}
    if len(views) != len(branches) or len(views) != 2 * len(members):
        raise CannotSplit(f"not one plain and one mirrored branch per network: {sorted(views)}")
    return concat, branches


def variant(model: onnx.ModelProto, members: set[int], mirror: bool) -> bytes:
    """The shipped graph with only the chosen branches stacked, then pruned to what they need."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    concat, branches = split_branches(m)
    keep = [
        b["stacked"] for b in branches if b["member"] in members and (mirror or not b["mirror"])
    ]
    del concat.input[:]
    concat.input.extend(keep)
    g = m.graph
    needed = {o.name for o in g.output}
    nodes = []
    for node in reversed(g.node):  # the exporter writes nodes in topological order
        if needed & set(node.output):
            nodes.append(node)
            needed.update(node.input)
    del g.node[:]
    g.node.extend(reversed(nodes))
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    onnx.checker.check_model(m, full_check=True)
    return m.SerializeToString()


def load(model_bytes: bytes, shipped_dir: Path, work: Path, name: str) -> Model:
    """Through the server's model_fn, so the session options are the server's exactly."""
    folder = work / ("variant-" + name.replace(" ", "_").replace("+", "plus"))
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(model_bytes)
    shutil.copy(shipped_dir / METADATA_FILE, folder / METADATA_FILE)
    return model_fn(folder)


def quality(model: Model, images: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    probs = np.array([predict_fn(x[np.newaxis], model) for x in images])  # the server's numbers
    top, predicted = probs.max(axis=1), probs.argmax(axis=1)
    covered, correct = top >= threshold, predicted == labels
    n_cov = int(covered.sum())
    return {
        "coverage": round(n_cov / len(labels), 4),
        "accuracy_covered": round(float(correct[covered].mean()), 4) if n_cov else None,
        "accuracy_overall": round(float(correct.mean()), 4),
        "covered": n_cov,
        "accepted_errors": int((covered & ~correct).sum()),
        # coverage x accuracy on the covered: the share the workflow classifies right on its own
        "correct_accepted": round(float((covered & correct).mean()), 4),
        "_probs": probs,
    }


def latencies(models: dict[str, Model], images: np.ndarray, passes: int) -> dict[str, list]:
    """session.run at batch 1; each pass runs every variant over all images in its own block
    (as a server runs one model), the order rotated per pass so drifting load hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for name in names:  # warm-up: allocations, the first-run graph work
        s, meta = models[name].session, models[name].metadata
        for x in images[:50]:
            s.run([meta.output_name], {meta.input_name: x[np.newaxis]})
    for p in range(passes):
        for name in names[p % len(names) :] + names[: p % len(names)]:
            s, meta, out = models[name].session, models[name].metadata, samples[name]
            for x in images:
                feed = {meta.input_name: x[np.newaxis]}
                t0 = time.perf_counter()
                s.run([meta.output_name], feed)
                out.append(time.perf_counter() - t0)
    return samples


def ms(samples: list[float], q: float) -> float:
    return round(percentile(samples, q) * 1000, 3)


STEPS = {  # what each addition buys: (label, without it, with it)
    "mirror on 1 net": ("1 net", "1 net + mirror"),
    "mirror on 4 nets": ("4 nets", SHIPPED),
    "3 more nets without mirror": ("1 net", "4 nets"),
    "3 more nets with mirror": ("1 net + mirror", SHIPPED),
}


def steps(rows: dict[str, dict]) -> dict[str, dict]:
    """Each step's gain and cost. It pays when it adds correct auto-accepts or removes accepted
    errors and makes neither worse (one image either way counts: the set is small)."""
    out = {}
    for label, (a, b) in STEPS.items():
        if a in rows and b in rows:
            gain = round(100 * (rows[b]["correct_accepted"] - rows[a]["correct_accepted"]), 1)
            errs = rows[b]["accepted_errors"] - rows[a]["accepted_errors"]
            out[label] = {
                "correct_auto_accepts_pp": gain,
                "accepted_errors": errs,
                "model_p50_ms": round(rows[b]["model_p50_ms"] - rows[a]["model_p50_ms"], 3),
                "pays": (gain > 0 or errs < 0) and gain >= 0 and errs <= 0,
            }
    return out


def verdict(rows: dict[str, dict]) -> str:
    """Computed from the figures: value per model-ms, the best result, which steps pay."""
    per_ms = {n: r["correct_accepted"] / r["model_p50_ms"] for n, r in rows.items()}
    value = max(per_ms, key=per_ms.get)
    best = max(rows, key=lambda n: (rows[n]["correct_accepted"], -rows[n]["accepted_errors"]))
    paying = steps(rows)
    yes = [k for k, v in paying.items() if v["pays"]]
    no = [k for k, v in paying.items() if not v["pays"]]
    return (
        f"best correct auto-accepts per model-ms: {value}; "
        f"most correct auto-accepts: {best} ({rows[best]['correct_accepted']:.1%}, "
        f"{rows[best]['accepted_errors']} accepted errors, {rows[best]['model_p50_ms']} ms); "
        f"pays: {', '.join(yes) or 'none'}; does not pay: {', '.join(no) or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-artifact", type=Path)
    parser.add_argument("--passes", type=int, default=5, help="timed passes over the images")
    args = parser.parse_args()
    settings = Settings.from_env()
    artifact = args.model_artifact or settings.model_artifact
    work = Path(tempfile.mkdtemp(prefix="bench-model-variants-"))
    shipped_dir = unpack_artifact(artifact, work / "shipped")
    shipped_bytes = (shipped_dir / MODEL_FILE).read_bytes()
    graph = onnx.load_from_string(shipped_bytes)
    meta = json.loads((shipped_dir / METADATA_FILE).read_text())

    listed = listed_images(settings.data_dir)
    spec, norm = meta["input"], meta["normalization"]
    size = (spec["width"], spec["height"])
    images = np.stack(
        [
            to_input(Image.open(i.path), *size, norm["scale"], norm["mean"], norm["std"])
            for i in listed
        ]
    )
    labels = np.array([i.label for i in listed])

    models = {SHIPPED: load(shipped_bytes, shipped_dir, work, "shipped")}
    figures: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "model": str(artifact),
        "images": len(listed),
        "threshold": settings.threshold,
        "latency": f"onnxruntime session.run, batch 1, model_fn's session options, "
        f"{args.passes} passes x {len(listed)} images pooled, after 50 warm-up runs",
    }
    try:
        _, branches = split_branches(graph)
        n_members = len({b["member"] for b in branches})
        # a full rebuild must give the shipped numbers, else the cut is not the shipped graph's
        full = variant(graph, set(range(n_members)), mirror=True)
        rebuilt = load(full, shipped_dir, work, "rebuilt")
        diff = float(
            np.abs(
                rebuilt.session.run(None, {spec["name"]: images})[0]
                - models[SHIPPED].session.run(None, {spec["name"]: images})[0]
            ).max()
        )
        figures["split"] = {
            "networks": n_members,
            "branches": len(branches),
            "rebuilt_full_graph_max_abs_diff": diff,
        }
        for k in range(n_members):
            for mirror in (False, True):
                name = f"net {k}" + (" + mirror" if mirror else "")
                models[name] = load(variant(graph, {k}, mirror), shipped_dir, work, name)
        models["4 nets"] = load(
            variant(graph, set(range(n_members)), False), shipped_dir, work, "4n"
        )
    except CannotSplit as exc:
        figures["split"] = {"error": f"the shipped graph cannot be split cleanly: {exc}"}
        print(figures["split"]["error"], "- only the shipped graph is measured")

    quality_by = {n: quality(m, images, labels, settings.threshold) for n, m in models.items()}
    samples = latencies(models, images, args.passes)
    figures["shipped_model_cost"] = {
        "p50_ms": ms(samples[SHIPPED], 0.5),
        "p95_ms": ms(samples[SHIPPED], 0.95),
        "samples": len(samples[SHIPPED]),
    }

    def row(name: str) -> dict:
        q = {k: v for k, v in quality_by[name].items() if not k.startswith("_")}
        return {
            **q,
            "model_p50_ms": ms(samples[name], 0.5),
            "model_p95_ms": ms(samples[name], 0.95),
        }

    # "1 net" is network 0, the first member; every member's figures are kept to show the spread
    aliases = {"1 net": "net 0", "1 net + mirror": "net 0 + mirror", "4 nets": "4 nets"}
    rows = {alias: row(src) for alias, src in aliases.items() if src in models}
    rows[SHIPPED] = row(SHIPPED)
    figures["variants"] = rows
    if "net 0" in models:
        figures["single_networks"] = {n: row(n) for n in models if n.startswith("net ")}
        # does the verdict depend on which member stands for "1 net"?
        verdicts = {}
        for k in range(figures["split"]["networks"]):
            alt = {**rows, "1 net": row(f"net {k}"), "1 net + mirror": row(f"net {k} + mirror")}
            verdicts[f"net {k}"] = verdict(alt)
        figures["one_net_is"] = "net 0"
        figures["verdict_same_whichever_network_is_1_net"] = len(set(verdicts.values())) == 1
        if len(set(verdicts.values())) > 1:
            figures["verdict_by_network"] = verdicts
        figures["caveat"] = (
            "the temperature was fitted to the full ensemble's averaged logits; the smaller "
            "variants reuse it (no refit, no retraining), so their confidences are not "
            "calibrated for them. 200 images: one image is 0.5 pp."
        )
    figures["steps"] = steps(rows)
    figures["verdict"] = verdict(rows)
    print_table(figures)
    write_figures("model_variants", figures)
    shutil.rmtree(work, ignore_errors=True)


def print_table(figures: dict) -> None:
    cost = figures["shipped_model_cost"]
    table = Table(
        title=f"model variants on {figures['images']} test images at threshold "
        f"{figures['threshold']} (shipped graph: p50 {cost['p50_ms']} ms, p95 {cost['p95_ms']} ms)"
    )
    for col in ("variant", "coverage", "acc. covered", "acc. overall", "accepted errors"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    table.add_column("correct auto-accepts", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    groups = [figures["variants"], figures.get("single_networks", {})]
    for group in groups:
        for name, r in group.items():
            acc = r["accuracy_covered"]
            table.add_row(
                name,
                f"{r['coverage']:.1%}",
                "-" if acc is None else f"{acc:.1%}",
                f"{r['accuracy_overall']:.1%}",
                str(r["accepted_errors"]),
                f"{r['correct_accepted']:.1%}",
                f"{r['model_p50_ms']:.3f}",
                f"{r['model_p95_ms']:.3f}",
            )
        if group:
            table.add_section()
    console = Console(width=120)  # the table's width, also when piped
    console.print(table)
    console.print(f"split: {figures['split']}")
    console.print(f"verdict: {figures['verdict']}")


if __name__ == "__main__":
    main()
