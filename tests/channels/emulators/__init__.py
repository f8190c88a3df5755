"""Local gateway emulators for DingTalk Stream and Feishu long connection: the real SDKs connect to them."""
