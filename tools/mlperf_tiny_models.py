"""The MLPerf Tiny v0.5+ reference architectures in Keras (mlcommons/tiny, benchmark/training/*), rebuilt to count
their int8 operators: keyword spotting DS-CNN, image classification ResNet-8, anomaly detection FC autoencoder,
visual wake words MobileNetV1 0.25 (96x96). Weights are random: only shapes and operators matter here."""


def kws_dscnn():
    import tensorflow as tf
    L = tf.keras.layers
    x = inp = L.Input((49, 10, 1))
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same")(x)
    x = L.Activation("relu")(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.DepthwiseConv2D((3, 3), padding="same")(x)
        x = L.Activation("relu")(L.BatchNormalization()(x))
        x = L.Conv2D(64, (1, 1), padding="same")(x)
        x = L.Activation("relu")(L.BatchNormalization()(x))
    x = L.AveragePooling2D(pool_size=(25, 5))(x)
    x = L.Flatten()(x)
    out = L.Dense(12, activation="softmax")(x)
    return tf.keras.Model(inp, out, name="kws_dscnn")


def ic_resnet8():
    import tensorflow as tf
    L = tf.keras.layers
    x = inp = L.Input((32, 32, 3))
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(x)))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(filters, 3, strides=stride, padding="same")(x)))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = L.Activation("relu")(L.Add()([x, y]))
    x = L.AveragePooling2D(pool_size=(8, 8))(x)
    x = L.Flatten()(x)
    out = L.Dense(10, activation="softmax")(x)
    return tf.keras.Model(inp, out, name="ic_resnet8")


def ad_autoencoder():
    import tensorflow as tf
    L = tf.keras.layers
    x = inp = L.Input((640,))
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = L.Activation("relu")(L.BatchNormalization()(L.Dense(units)(x)))
    out = L.Dense(640)(x)
    return tf.keras.Model(inp, out, name="ad_autoencoder")


def vww_mobilenet():
    import tensorflow as tf
    L = tf.keras.layers
    x = inp = L.Input((96, 96, 3))
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, padding="same")(x)))
    for filters, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                            (128, 1), (128, 1), (256, 2), (256, 1)):
        x = L.Activation("relu")(L.BatchNormalization()(L.DepthwiseConv2D(3, strides=stride, padding="same")(x)))
        x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(filters, 1, padding="same")(x)))
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Flatten()(x)
    out = L.Dense(2, activation="softmax")(x)
    return tf.keras.Model(inp, out, name="vww_mobilenet")


BUILDERS = {"kws": kws_dscnn, "ic": ic_resnet8, "ad": ad_autoencoder, "vww": vww_mobilenet}
