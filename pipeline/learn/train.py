"""Train the intent and priority models, choose their settings by cross-validation, and
write the artifacts and model cards to ``models/``.

Labels are per message but the extractor classifies clauses, so everything here is scored
the way the extractor turns clause labels into items: a message's intent is its first
non-none clause's label (``none`` if its prefilter skips the message), its priority the
highest over those clauses. The training unit (whole messages, or clauses labelled from
the items they hold, see :func:`~pipeline.learn.data.clause_labels`) is one of the
hyperparameters. They are chosen by grouped cross-validation on the train split alone
(no conversation in two folds); dev and test are only reported, never used for a choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, ParameterGrid
from sklearn.pipeline import Pipeline

from pipeline.config import Settings
from pipeline.domain import Intent, Priority
from pipeline.extract.classify import RuleIntentClassifier, RulePriorityClassifier
from pipeline.learn.classifier import SklearnClassifier, save_model
from pipeline.learn.data import (
    LabelledMessage,
    clause_labels,
    collect_clauses,
    data_sha256,
    load_dataset,
    whole_message,
)
from pipeline.learn.features import clause_rows, make_features
from pipeline.nlp import load_nlp

MODEL_VERSION = "1"
KINDS = ("intent", "priority")
FOLDS = 5
MAX_FEATURES = 20_000  # per vocabulary; keeps each artifact to a few megabytes
MIN_DF = 2
GRIDS = {
    "intent": ParameterGrid(
        {
            "unit": ["message", "clause"],
            "char_ngrams": [False, True],
            "message_text": [False],
            "C": [4.0, 16.0, 64.0],
            "class_weight": [None, "balanced"],
        }
    ),
    "priority": ParameterGrid(
        {
            "unit": ["message", "clause"],
            "char_ngrams": [True],
            "message_text": [False, True],
            "C": [4.0, 16.0, 64.0],
            "class_weight": [None, "balanced"],
        }
    ),
}
INTENT_LABELS = tuple(i.value for i in Intent)
PRIORITY_LABELS = tuple(p.value for p in Priority)
_RANK = {Priority.NORMAL.value: 0, Priority.HIGH.value: 1, Priority.URGENT.value: 2}


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message, parsed and turned into feature rows (picklable, no spaCy)."""

    conversation: str
    intent: str
    priority: str
    admitted: bool  # the extractor's prefilter lets it through
    rows: np.ndarray  # one row per clause, as inference sees them
    whole: np.ndarray  # one row for the message as a single clause
    clause_intents: tuple[str, ...]
    rule_intents: tuple[str, ...]
    rule_priorities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelResult:
    kind: str
    params: dict[str, Any]
    cv: dict[str, float]
    cv_table: list[tuple[dict[str, Any], dict[str, float]]]
    dev: dict[str, Any]
    test: dict[str, Any]
    baseline_dev: dict[str, Any]
    examples: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Summary:
    models: list[ModelResult]
    seconds: float
    data_sha256: str


def build_examples(
    settings: Settings, messages: Sequence[LabelledMessage], nlp: Any = None
) -> list[Example]:
    """Parse ``messages`` once (spaCy, dates, clauses) and keep only what learning needs."""
    parsed = collect_clauses(settings, nlp or load_nlp(settings.spacy_model), messages)
    rule_intent, rule_priority = RuleIntentClassifier(), RulePriorityClassifier()
    examples = []
    for labelled in messages:
        clauses = parsed.clauses[labelled.message.id]
        examples.append(
            Example(
                conversation=labelled.conversation,
                intent=labelled.intent.value,
                priority=labelled.priority.value,
                admitted=labelled.message.id in parsed.admitted,
                rows=clause_rows(clauses),
                whole=clause_rows([whole_message(clauses)] if clauses else []),
                clause_intents=tuple(i.value for i in clause_labels(labelled, clauses)),
                rule_intents=tuple(p.label for p in rule_intent.predict(clauses)),
                rule_priorities=tuple(p.label for p in rule_priority.predict(clauses)),
            )
        )
    return examples


def training_set(kind: str, unit: str, examples: Sequence[Example]) -> tuple[np.ndarray, list[str]]:
    """Rows and labels to fit on. Priority learns from messages that hold items only: it
    is only ever asked about clauses the intent model kept, and ``none`` messages are
    ``normal`` by rule whatever their words say."""
    rows: list[np.ndarray] = []
    labels: list[str] = []
    for example in examples:
        if not len(example.rows) or (kind == "priority" and example.intent == Intent.NONE):
            continue
        label = example.intent if kind == "intent" else example.priority
        if unit == "message":
            rows.append(example.whole)
            labels.append(label)
        elif kind == "intent":
            rows.append(example.rows)
            labels.extend(example.clause_intents)
        else:
            work = [i for i, c in enumerate(example.clause_intents) if c != Intent.NONE]
            rows.append(example.rows[work])
            labels.extend([label] * len(work))
    return np.concatenate(rows), labels


def fit_model(kind: str, params: dict[str, Any], examples: Sequence[Example]) -> Pipeline:
    """A features + logistic regression pipeline fitted on ``examples``; the solver
    (lbfgs) is deterministic, so the same data and parameters give the same model."""
    rows, labels = training_set(kind, params["unit"], examples)
    model = Pipeline(
        [
            (
                "features",
                make_features(
                    max_features=MAX_FEATURES,
                    min_df=MIN_DF,
                    char_ngrams=params["char_ngrams"],
                    message_text=params["message_text"],
                ),
            ),
            (
                "model",
                LogisticRegression(
                    C=params["C"], class_weight=params["class_weight"], max_iter=5000
                ),
            ),
        ]
    )
    return model.fit(rows, labels)


def clause_predictions(model: Pipeline, examples: Sequence[Example]) -> list[tuple[str, ...]]:
    """Each message's clause labels, predicted in one batch."""
    sizes = [len(e.rows) for e in examples]
    if not sum(sizes):
        return [() for _ in examples]
    predicted = model.predict(np.concatenate([e.rows for e in examples if len(e.rows)]))
    bounds = np.cumsum([0, *sizes])
    return [tuple(str(p) for p in predicted[a:b]) for a, b in pairwise(bounds)]


def message_intent(intents: Sequence[str], admitted: bool) -> str:
    """The extractor's reading: the first non-none clause makes the first item."""
    if not admitted:
        return Intent.NONE.value
    return next((i for i in intents if i != Intent.NONE), Intent.NONE.value)


def message_priority(intents: Sequence[str], priorities: Sequence[str], admitted: bool) -> str:
    """The highest priority over the clauses that become items; ``normal`` without any."""
    work = [p for i, p in zip(intents, priorities, strict=True) if i != Intent.NONE]
    if not admitted or not work:
        return Priority.NORMAL.value
    return max(work, key=_RANK.__getitem__)


def metrics(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=list(labels), zero_division=0
    )
    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=list(labels), average="macro")),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
    }


def _cv_gold_and_predicted(
    kind: str, params: dict[str, Any], fit_on: list[Example], held_out: list[Example]
) -> tuple[list[str], list[str]]:
    """Message-level gold and predicted labels of one fold. Intent is scored as the
    extractor runs (prefilter on); priority on messages that hold items, over their
    labelled item clauses, so that intent errors do not blur the priority choice."""
    model = fit_model(kind, params, fit_on)
    if kind == "priority":
        held_out = [e for e in held_out if e.intent != Intent.NONE]
    predicted = clause_predictions(model, held_out)
    if kind == "intent":
        return [e.intent for e in held_out], [
            message_intent(p, e.admitted) for e, p in zip(held_out, predicted, strict=True)
        ]
    return [e.priority for e in held_out], [
        message_priority(e.clause_intents, p, True)
        for e, p in zip(held_out, predicted, strict=True)
    ]


def cross_validate(
    kind: str, examples: list[Example], seed: int, folds: int = FOLDS, n_jobs: int = 2
) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """Out-of-fold message-level accuracy and macro-F1 for every grid point, folds
    grouped by conversation; best first (ties keep grid order)."""
    groups = [e.conversation for e in examples]
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(examples)), groups=groups))
    grid = list(GRIDS[kind])
    jobs = [
        delayed(_cv_gold_and_predicted)(
            kind, params, [examples[i] for i in fit_on], [examples[i] for i in held_out]
        )
        for params in grid
        for fit_on, held_out in splits
    ]
    outcomes = Parallel(n_jobs=n_jobs)(jobs)
    labels = INTENT_LABELS if kind == "intent" else PRIORITY_LABELS
    table = []
    for index, params in enumerate(grid):
        gold: list[str] = []
        predicted: list[str] = []
        for fold_gold, fold_predicted in outcomes[index * folds : (index + 1) * folds]:
            gold.extend(fold_gold)
            predicted.extend(fold_predicted)
        scored = metrics(gold, predicted, labels)
        table.append((params, {"macro_f1": scored["macro_f1"], "accuracy": scored["accuracy"]}))
    return sorted(table, key=lambda row: -row[1]["macro_f1"])


def evaluate(
    intent: Callable[[Sequence[Example]], list[tuple[str, ...]]],
    priority: Callable[[Sequence[Example]], list[tuple[str, ...]]],
    examples: Sequence[Example],
) -> dict[str, dict[str, Any]]:
    """Message-level scores of a pair of clause classifiers, as the extractor combines
    them: intent with its prefilter on (what ships) and off (what a relaxed prefilter
    would allow); priority over every message (end to end) and over the messages that
    hold items given their labelled item clauses."""
    intents, priorities = intent(examples), priority(examples)
    items = [i for i, e in enumerate(examples) if e.intent != Intent.NONE]
    return {
        "intent": metrics(
            [e.intent for e in examples],
            [message_intent(p, e.admitted) for e, p in zip(examples, intents, strict=True)],
            INTENT_LABELS,
        ),
        "intent_no_prefilter": metrics(
            [e.intent for e in examples],
            [message_intent(p, True) for p in intents],
            INTENT_LABELS,
        ),
        "priority": metrics(
            [e.priority for e in examples],
            [
                message_priority(i, p, e.admitted)
                for e, i, p in zip(examples, intents, priorities, strict=True)
            ],
            PRIORITY_LABELS,
        ),
        "priority_given_items": metrics(
            [examples[i].priority for i in items],
            [message_priority(examples[i].clause_intents, priorities[i], True) for i in items],
            PRIORITY_LABELS,
        ),
    }


def train(
    data_dir: Path,
    out_dir: Path,
    *,
    settings: Settings,
    seed: int = 0,
    folds: int = FOLDS,
    nlp: Any = None,
) -> Summary:
    """Train both models on the train split, report on dev and test, write artifacts."""
    started = time.perf_counter()
    dataset = load_dataset(data_dir)
    sha = data_sha256(data_dir)
    splits = {name: dataset.split(name) for name in ("train", "dev", "test")}
    examples = build_examples(settings, [m for s in splits.values() for m in s], nlp)
    parts, start = {}, 0
    for name, messages in splits.items():
        parts[name] = examples[start : start + len(messages)]
        start += len(messages)

    def rules(field: str) -> Callable[[Sequence[Example]], list[tuple[str, ...]]]:
        return lambda batch: [getattr(e, field) for e in batch]

    baseline = evaluate(rules("rule_intents"), rules("rule_priorities"), parts["dev"])
    fitted: dict[str, Pipeline] = {}
    tables = {}
    for kind in KINDS:
        tables[kind] = cross_validate(kind, parts["train"], seed, folds)
        fitted[kind] = fit_model(kind, tables[kind][0][0], parts["train"])

    def trained(kind: str) -> Callable[[Sequence[Example]], list[tuple[str, ...]]]:
        return lambda batch: clause_predictions(fitted[kind], batch)

    scores = {
        name: evaluate(trained("intent"), trained("priority"), parts[name])
        for name in ("dev", "test")
    }
    results = []
    trained_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    for kind in KINDS:
        params, cv = tables[kind][0]
        directory = out_dir / kind
        meta = {
            "model": kind,
            "version": MODEL_VERSION,
            "trained_at": trained_at,
            "data_sha256": sha,
            "seed": seed,
            "params": params,
            "labels": list(SklearnClassifier(fitted[kind]).labels),
            "cv": cv,
            "dev": _headline(scores["dev"], kind),
            "test": _headline(scores["test"], kind),
            "versions": {"scikit-learn": sklearn.__version__, "skops": skops.__version__},
        }
        save_model(fitted[kind], directory, meta)
        result = ModelResult(
            kind=kind,
            params=params,
            cv=cv,
            cv_table=tables[kind],
            dev=scores["dev"],
            test=scores["test"],
            baseline_dev=baseline,
            examples=len(training_set(kind, params["unit"], parts["train"])[1]),
            size_bytes=(directory / "model.skops").stat().st_size,
        )
        (directory / "card.md").write_text(
            _card(result, meta, folds, {k: len(v) for k, v in splits.items()}), encoding="utf-8"
        )
        results.append(result)
    return Summary(results, time.perf_counter() - started, sha)


def _headline(scores: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, float]]:
    return {
        name: {key: round(scored[key], 4) for key in ("accuracy", "macro_f1")}
        for name, scored in scores.items()
        if name.startswith(kind)
    }


def _card(result: ModelResult, meta: dict[str, Any], folds: int, sizes: dict[str, int]) -> str:
    kind = result.kind
    main, extra = (
        ("intent", "intent_no_prefilter")
        if kind == "intent"
        else ("priority", "priority_given_items")
    )
    lines = [
        f"# chat2task {kind} model",
        "",
        f"* version: {meta['version']} (scikit-learn {sklearn.__version__}, skops "
        f"{skops.__version__})",
        f"* trained: {meta['trained_at']}, seed {meta['seed']}",
        f"* training data: `data/labelled` sha256 `{meta['data_sha256']}` (all `*.jsonl` + "
        f"`splits.json`); messages train/dev/test = {sizes['train']}/{sizes['dev']}/"
        f"{sizes['test']}; {result.examples} training rows",
        f"* rebuild: `chat2task train --data data/labelled --out models --seed {meta['seed']}`",
        f"* labels: {', '.join(meta['labels'])}",
        f"* file: `model.skops` ({result.size_bytes / 1024:.0f} KiB), load with "
        "`pipeline.learn.classifier.SklearnClassifier.load` (explicit trusted types)",
        "",
        "## What it is",
        "",
        _DESCRIPTION[kind],
        "",
        "Features (`pipeline/learn/features.py`, shared by training and inference): TF-IDF "
        "word 1–2-grams of the clause (`cues.normalise`d text), optionally character "
        "2–5-grams and word n-grams of the whole message, and a dict of parse/cue features: "
        "imperative opening (`is_imperative`), modal, second/first person, question mark, "
        "first clause, root tag, length, request/commitment/meeting/scheduling/past-done/"
        "negation/cancellation/plain-question/urgent/high cue hits in the clause and in the "
        "message, time mention present with its grain and how far ahead it is (past, within "
        "the hour, today, tomorrow, within a week, later, from `DateResolver` via the "
        "extractor), deadline wording before a time, and the rule baselines' predictions. "
        f"`max_features={MAX_FEATURES}` per vocabulary, `min_df={MIN_DF}`. Model: "
        "multinomial logistic regression (lbfgs); confidence = its probability.",
        "",
        "## Hyperparameters (chosen by cross-validation on train only)",
        "",
        f"{folds}-fold `GroupKFold` by conversation on the train split, scored at message "
        f"level ({_CV_SCORE[kind]}); best by macro-F1. Chosen: `{result.params}`.",
        "",
        "| unit | char n-grams | message n-grams | C | class_weight | CV macro-F1 | CV acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for params, scored in result.cv_table:
        lines.append(
            f"| {params['unit']} | {params['char_ngrams']} | {params['message_text']} | "
            f"{params['C']} | {params['class_weight']} | {scored['macro_f1']:.4f} | "
            f"{scored['accuracy']:.4f} |"
        )
    lines += [
        "",
        "## Message-level results",
        "",
        "Scored as the extractor uses the classifiers: a message's intent is its first "
        "non-none clause's label, `none` when the extractor's cue-word prefilter skips the "
        "message; its priority is the highest over the clauses that become items, `normal` "
        "without any. The rule baseline (`intent_classifier=rules`, `priority_classifier="
        "rules`) is scored the same way on the same clauses. Test was computed once, "
        "after every choice was made on train CV.",
        "",
        "| split | model | accuracy | macro-F1 |",
        "|---|---|---|---|",
    ]
    for name, scores in (
        ("dev", result.baseline_dev),
        ("dev", result.dev),
        ("test", result.test),
    ):
        label = "rules" if scores is result.baseline_dev else "sklearn"
        for key in (main, extra):
            lines.append(
                f"| {name} | {label} ({_SCOPE[key]}) | {scores[key]['accuracy']:.4f} | "
                f"{scores[key]['macro_f1']:.4f} |"
            )
    for name, scores in (("dev", result.dev), ("test", result.test)):
        lines += [
            "",
            f"Per class, {name} ({_SCOPE[main]}):",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for label, row in scores[main]["per_class"].items():
            lines.append(
                f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | "
                f"{row['support']} |"
            )
    lines += ["", "## Limitations", "", _LIMITATIONS[kind], ""]
    return "\n".join(lines)


_DESCRIPTION = {
    "intent": (
        "Labels a clause `task`, `event` or `none`. Labels in the data are per message, so "
        "the training unit was chosen by CV: `message` trains on whole messages (one row "
        "each, the label of the message), `clause` on the extractor's clauses, each "
        "labelled with the type of the item it holds (items are matched to clauses by time "
        "expression and title words, in text order) or `none`."
    ),
    "priority": (
        "Labels a clause `urgent`, `high` or `normal`; the extractor gives an item its "
        "clause's priority and the harness scores the highest over a message's items. "
        "Trained on messages that hold items only (the unit, whole message or item clauses "
        "labelled with the message priority, chosen by CV): `none` messages are `normal` by "
        "rule whatever their words, and the model is only asked about kept clauses."
    ),
}
_CV_SCORE = {
    "intent": "message intent with the extractor's prefilter on",
    "priority": "message priority on messages with items, over their labelled item clauses",
}
_SCOPE = {
    "intent": "as shipped, prefilter on",
    "intent_no_prefilter": "prefilter off",
    "priority": "end to end, all messages",
    "priority_given_items": "messages with items, labelled item clauses",
}
_LIMITATIONS = {
    "intent": (
        'Sees one message at a time, but many labels depend on the conversation ("sending" '
        'after a request is a task, "3pm works" after a proposal is none), which caps what '
        "any single-message model can reach. The extractor's cue-word prefilter drops "
        'messages with no cue word before any classifier runs (e.g. "dentist booked '
        "tuesday 3pm\"): those are `none` whatever the model says; the 'prefilter off' row "
        "shows what the model does on every message. The data is synthetic and written by "
        "one process (see `data/labelled/README.md`): scores will be lower on real chats."
    ),
    "priority": (
        "`urgent` is rare (40 train messages, a handful in dev/test), so its per-class "
        "numbers are unstable. End-to-end priority inherits every intent error (an item "
        "found in a `none` message, or missed). There are no per-item priority labels: a "
        "message's clauses are all trained with the message's priority. Synthetic data "
        "from one writer (see `data/labelled/README.md`)."
    ),
}
