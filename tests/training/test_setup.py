"""A run before its first step (``carl_pipeline.training.setup``): settings that are legal but
almost surely a mistake are warned."""





def test_training__settings_that_are_legal_but_almost_surely_a_mistake_are_warned(pouring_store, tmp_path, caplog):
    from carl_pipeline.augment import AugmentConfig
    from carl_pipeline.models import EncoderConfig
    from carl_pipeline.training import OptimConfig, RunDir, SamplingConfig, TrainSettings, train

    encoder = EncoderConfig(backbone="resnet18", freeze_through="layer1", num_layers=1, hidden_size=32, num_heads=4,
                            ff_size=64, fc_channels=32, embedding_size=16, projection_hidden=16, projection_size=16,
                            train_length=8, dropout=0.0)
    ids = pouring_store.video_ids()
    with caplog.at_level("WARNING"):
        train(str(pouring_store.root), ids, TrainSettings(encoder, SamplingConfig(num_steps=8), AugmentConfig(image_size=16), OptimConfig(epochs=1, batch_size=len(ids) + 3, progress=False), device="cpu"), RunDir(tmp_path / "runs"))
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert f"batch_size {len(ids) + 3}" in messages and f"larger than the {len(ids)} training videos" in messages
    assert "augment.image_size 16: inputs under 32 px" in messages
