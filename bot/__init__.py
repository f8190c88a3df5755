"""KubeDuty: a Kubernetes on-duty copilot for DingTalk, Feishu and the terminal."""

__version__ = "0.1.0"
