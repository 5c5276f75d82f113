"""The Latentzip engine: image codec runtime, entropy coding, archive format. Never imports Qt."""
