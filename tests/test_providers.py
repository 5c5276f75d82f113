"""ONNX Runtime execution providers: an installed accelerator first, the CPU always last (only the CPU runs here)."""

from __future__ import annotations

from latentzip.codec import cli
from latentzip.codec.runtime.model_set import CPU_PROVIDER, PROVIDER_ENV, execution_providers


def test_the_first_installed_accelerator_then_the_cpu(monkeypatch):
    monkeypatch.delenv(PROVIDER_ENV, raising=False)
    assert execution_providers([CPU_PROVIDER]) == [CPU_PROVIDER]
    both = ["CoreMLExecutionProvider", "CUDAExecutionProvider", CPU_PROVIDER]
    assert execution_providers(both) == ["CUDAExecutionProvider", CPU_PROVIDER]
    assert execution_providers(["DmlExecutionProvider", CPU_PROVIDER]) == ["DmlExecutionProvider", CPU_PROVIDER]
    assert execution_providers(["TensorrtExecutionProvider", CPU_PROVIDER]) == [CPU_PROVIDER]  # not chosen


def test_the_cpu_can_be_forced(monkeypatch):
    monkeypatch.setenv(PROVIDER_ENV, "cpu")
    assert execution_providers(["CUDAExecutionProvider", CPU_PROVIDER]) == [CPU_PROVIDER]


def test_sessions_run_on_what_was_chosen_and_version_says_it(monkeypatch, capsys):
    from latentzip.codec.engine import default_registry

    monkeypatch.delenv(PROVIDER_ENV, raising=False)
    session = default_registry().get().session("decoder", "B")
    assert session.get_providers()[-1] == CPU_PROVIDER
    assert cli.main(["--version"]) == 0
    assert f"execution: {', '.join(execution_providers())}" in capsys.readouterr().out
