"""The sandbox cluster: a stateful Kubernetes API server emulator over real HTTP, for the demo and the tests.

from tools.sandbox import start_sandbox_thread
h = start_sandbox_thread(seed="demo", port=0)
h.url, h.kubeconfig_path, h.cluster.get("pod", "dev", "x"), h.stop()
"""

from tools.sandbox.cluster import Cluster
from tools.sandbox.handle import SandboxHandle, kubeconfig, multi_kubeconfig, start_sandbox_thread

__all__ = ["Cluster", "SandboxHandle", "kubeconfig", "multi_kubeconfig", "start_sandbox_thread"]
