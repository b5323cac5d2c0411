"""Cell sources of notebooks/02-sign-language-cnn.ipynb (seed 002). Writing the notebook from
this file keeps its markdown and code reviewable as text; `python3 scripts/notebook-sources/02.py`
rewrites the notebook's cells and keeps the outputs of cells whose source did not change."""

from pathlib import Path

from nbsource import build

NB = Path(__file__).resolve().parents[2] / "notebooks" / "02-sign-language-cnn.ipynb"

CELLS = [
    ("md", """# Sign-language letters with a convolutional network

The course's previous notebook trained a dense network on *Sign Language MNIST*: it learned its training
images almost perfectly and did much worse on images it had not seen. That gap is **overfitting** — the
model memorised its examples instead of learning what makes a letter. This notebook keeps the data and the
training recipe and changes only the model: a **convolutional neural network** (CNN), the kind of network
made for images. It then takes the course's next step and trains the same CNN on randomly *augmented*
images (rotated, zoomed, shifted, flipped), Keras's `ImageDataGenerator`.

Everything runs in Jupyter with the Rust kernel (evcxr), on [candle](https://github.com/huggingface/candle).

**The data.** Each image is a 28×28 grey photo of a hand spelling one of 24 letters: A to Y without J,
because J and Z are signed with a movement. The course's copy has 27,455 training rows and 7,172
validation rows, in `sign_mnist_train.csv` and `sign_mnist_valid.csv` (Kaggle's copy calls the second file
`sign_mnist_test.csv`; the loader takes either name), under `sign_mnist/` in the folder named by
`CANDLEBOOK_DATA`. Without those files the notebook draws its own stand-in — 150 training and 20 validation
images per letter of a hand shape whose one to three fingers point in a direction that encodes the letter —
and says so in its output (`GENERATED DATA: ...`). The project's sample of the real files has only 188
training and 11 validation rows: the notebook runs on it, but accuracies on 11 images mean nothing."""),
    ("md", """## 1. Loading and preparing the data

One `:dep` line brings the whole toolkit; the prelude has the loaders, layers and plots."""),
    ("code", """:dep candlebook = { path = "../crates/candlebook" }"""),
    ("code", """use candlebook::prelude::*;
let device = best_device();
let root = DataRoot::locate()?;"""),
    ("md", """pandas's `read_csv` becomes a polars `DataFrame`: one row per image, a `label` column, then one column per
pixel (`pixel1` … `pixel784`, row by row). A frame as a cell's last value is shown as a table, cut in the
middle like pandas cuts wide frames. (The Rust kernel keeps a variable from one cell to the next only when
it knows its type; for polars's types we write it down: `DataFrame` here, `Column` below.)"""),
    ("code", """let mut train_df: DataFrame = sign_mnist_frame(&root, Split::Train)?;
let mut valid_df: DataFrame = sign_mnist_frame(&root, Split::Test)?;
train_df.head(Some(5))"""),
    ("md", """### Labels apart from pixels

`drop_in_place` takes a column out of the frame and hands it back — pandas's `y = df['label']` and
`del df['label']` in one step. What is left in the frames is pixels only."""),
    ("code", """let y_train: Column = train_df.drop_in_place("label")?;
let y_valid: Column = valid_df.drop_in_place("label")?;
println!("labels: {} for training, {} for validation", y_train.len(), y_valid.len());
println!("pixel columns left: {} and {}", train_df.width(), valid_df.width());"""),
    ("md", """### Images as numbers

`frame_to_tensor` is pandas's `df.values`: the frame as a matrix, one row of 784 values per image."""),
    ("code", """let x_train = frame_to_tensor(&train_df, &device)?;
let x_valid = frame_to_tensor(&valid_df, &device)?;"""),
    ("md", """### One-hot targets: 24 letters, numbered 0 to 24

The CSVs number each letter by its place in the alphabet, A = 0 to Y = 24, and J (9) never occurs. So there
are 24 letters but the numbers run to 24: Keras's `to_categorical(y, 24)` expects 0 to 23 and would reject
every Y. `letter_classes` closes the gap — A to I keep 0 to 8, K to Y move down one to 9 to 23 — and the
class names keep the letters, so nothing is lost. `to_categorical` then turns each class into a row of 24
zeros with a single 1."""),
    ("code", """let num_classes = 24;
let letters = sign_mnist_letters();
let train_classes = letter_classes(&y_train, &device)?;
let valid_classes = letter_classes(&y_valid, &device)?;
let y_train = to_categorical(&train_classes, num_classes)?;
let y_valid = to_categorical(&valid_classes, num_classes)?;
println!("classes 0..23: {}", letters.join(" "));
println!("one-hot targets: {:?} and {:?}", y_train.dims(), y_valid.dims());"""),
    ("md", """### Pixels from 0–255 to 0–1

Networks train better on small inputs; dividing by 255 puts every pixel between 0 and 1."""),
    ("code", """let x_train = (x_train / 255.0)?;
let x_valid = (x_valid / 255.0)?;
println!("training pixels now span {:?}", value_range(&x_train)?);"""),
    ("md", """## 2. Reshaping the images for a CNN

Right now every image is one long row of 784 numbers:"""),
    ("code", """(x_train.shape(), x_valid.shape())"""),
    ("md", """In a flat row, the network cannot tell which pixels were neighbours: the pixel under a given one is 28
places away. A convolution slides a small window over the image and needs the image as a grid, so we
reshape each row back into 28×28. A convolution also expects a **channel** axis — three for colour photos,
one here, since the images are grey.

One difference from Keras: candle keeps the channel axis *before* height and width, `(images, channels,
height, width)`, where Keras puts it last, `(images, height, width, channels)`. The model's summary below
still prints Keras's shapes so that it can be compared with the course. `()` in candle's `reshape` plays
the part of NumPy's `-1`: "whatever number of images there is"."""),
    ("code", """let x_train = x_train.reshape(((), 1, 28, 28))?;
let x_valid = x_valid.reshape(((), 1, 28, 28))?;"""),
    ("code", """(x_train.shape(), x_valid.shape())"""),
    ("md", """A look at the first training images, with their letters:"""),
    ("code", """labelled_grid(&x_train.narrow(0, 0, 16)?, &train_classes.narrow(0, 0, 16)?, &letters, 2, 8)?"""),
    ("md", """## 3. A convolutional model

Few projects start from a blank page: a model that worked on a similar problem is a good first guess, and
hubs such as TensorFlow Hub or NVIDIA's NGC catalog publish many. The course's CNN is a common shape for
small grey images — three rounds of convolution, batch normalisation and pooling, then a dense classifier
— and `zoo::asl_cnn` builds it layer for layer:

| layers | what they do |
| --- | --- |
| `Conv2D(75, 3×3, same, relu)`, `Conv2D(50, …)`, `Conv2D(25, …)` | 75, 50 and 25 learned 3×3 filters slide over the image one pixel at a time (`strides=1`); `same` padding keeps the output as large as the input. Early filters respond to edges and strokes, later ones to combinations of them. |
| `BatchNormalization` after each convolution | rescales each channel's outputs to a steady mean and spread, as we rescaled the inputs, which makes training steadier. |
| `MaxPool2D(2×2, strides 2, same)` after each | keeps the largest value of every 2×2 patch: the picture halves in width and height (28 → 14 → 7 → 4), the network gets cheaper and a feature that moves by a pixel still counts. |
| `Dropout(0.2)` after the second convolution, `Dropout(0.3)` before the output | switches off a random fifth (a third) of the values at every training step, so that no single unit can be relied on: a brake on overfitting. |
| `Flatten` | lays the last 4×4×25 grid out as one vector of 400 features. |
| `Dense(512, relu)`, `Dense(24, softmax)` | learn which features point to which letter; the last layer gives one probability per letter. |"""),
    ("code", """let mut model = zoo::asl_cnn(&device)?;"""),
    ("md", """## 4. The model's summary"""),
    ("code", """model.summary()"""),
    ("md", """The shapes are Keras's: 28×28 after each convolution's `same` padding, halved by each pooling layer,
then 400 features after `Flatten`. Of the 264,049 parameters, 300 are not trained by the optimiser: batch
normalisation's moving means and variances, which training updates as running averages. The remaining
263,749 are fewer than half of what a dense network with two hidden layers of 512 units has on the same
784 pixels (676,888, the course's previous model): a convolution reuses its nine weights at every position
of the image instead of giving every pixel its own."""),
    ("md", """## 5. Compiling

The course compiles with a loss and a metric only. Keras then uses its default optimizer, **RMSprop**
(learning rate 0.001, ρ = 0.9, ε = 10⁻⁷), and so do we. Categorical cross-entropy fits one-hot targets; the
"accuracy" of such targets is the share of images whose most probable letter is the right one."""),
    ("code", """model.compile(Optimizer::rmsprop(), Loss::categorical_crossentropy(), true);"""),
    ("md", """## 6. Training

Twenty passes over the training images in batches of 32 (Keras's default), reshuffled each epoch, with
the validation images scored after every epoch. Each line gives the epoch's running training loss and
accuracy (dropout on, weights moving), then the validation loss and accuracy (inference mode)."""),
    ("code", """let history = model.fit(&x_train, &y_train, Fit::new().epochs(20).validation_data(&x_valid, &y_valid))?;"""),
    ("md", """The course's notebook stops at these epoch lines (its copy printed them empty) and concludes that the CNN
does much better than the dense model. The curves and the per-letter results below show what the run above
actually did."""),
    ("md", """## 7. What the run shows

### Loss and accuracy per epoch"""),
    ("code", """LearningCurves::new(&history).both()?"""),
    ("md", """### Training and validation, both in inference mode

The training accuracy of the epoch lines was measured while dropout was switching units off and the
weights were changing; `evaluate` scores the final model on both sets the same way."""),
    ("code", """let plain_train = model.evaluate(&x_train, &y_train, 32)?;
let plain_valid = model.evaluate(&x_valid, &y_valid, 32)?;
println!("training set:   {plain_train}");
println!("validation set: {plain_valid}");"""),
    ("md", """### Which letters are confused with which

Rows are the true letters, columns the predicted ones; everything off the diagonal is a mistake."""),
    ("code", """let valid_probs = model.predict(&x_valid)?;
let cm = ConfusionMatrix::from_tensors(&valid_classes, &valid_probs, num_classes)?.with_class_names(&letters)?;
ConfusionMatrixPlot::new(&cm).title("CNN: validation letters (rows: true, columns: predicted)")"""),
    ("code", """show_misclassified(&x_valid, &valid_classes, &valid_probs, &letters, 24)?;"""),
    ("md", """In the run saved with this notebook — on the generated stand-in — the CNN ended with a validation accuracy
of 1.0000 and no misclassified letter, and its inference-mode accuracy on the training images (0.9997) is
no higher: nothing here shows overfitting. The validation loss took four epochs to come down, while batch
normalisation's running statistics caught up with the changing weights, and it wavered in later epochs
(0.0892 at epoch 17) without the training loss doing so. The stand-in's letters are easier than the real
photos, so its perfect score says the network learned the drawn shapes, not how it does on real hands; run
the notebook with `CANDLEBOOK_DATA` pointing at the course's files to see that."""),
    ("md", """## 8. Data augmentation

A model generalises better when it has seen more varied examples. Collecting more photos is expensive;
**augmentation** makes new ones from the old by changing them in ways that keep their letter — a hand turned
by a few degrees, a little closer to the camera, a bit off centre, or mirrored (a left hand signing the same
letter). Keras's `ImageDataGenerator` does it on the fly, and so does `ImageDataGenerator` here, with the
same parameters and meanings:

| parameter | course's value | effect |
| --- | --- | --- |
| `rotation_range` | 10 | turn by a random angle between −10° and 10° |
| `zoom_range` | 0.1 | scale width and height, each by its own random factor between 0.9 and 1.1 |
| `width_shift_range`, `height_shift_range` | 0.1 | move sideways and up or down, each by up to a tenth of the image's size (on square images; Keras 3.15 applies the two ranges to the opposite axes of a non-square image, and so do we) |
| `horizontal_flip` | true | mirror left–right half of the time |
| `fill_mode` | nearest (default) | pixels that come from outside the image copy the nearest edge pixel |

The transforms are drawn from a seeded generator: the same seed gives the same images. Given to `fit`,
the generator changes every training batch just before its step, so each epoch sees new variants of every
image, and no augmented copy of the whole dataset is ever stored. Validation images are never changed.
The transforms give the same pixels as Keras's `apply_affine_transform` (checked by the project's
tests against Keras and SciPy)."""),
    ("code", """let datagen = ImageDataGenerator::new()
    .rotation_range(10.0)
    .zoom_range(0.1)
    .width_shift_range(0.1)
    .height_shift_range(0.1)
    .horizontal_flip(true);"""),
    ("md", """Fifteen random variants of the first training image:"""),
    ("code", """augmentation_grid(&datagen, &x_train.get(0)?, 2, 8, 1)?"""),
    ("md", """### The same CNN, trained on augmented batches

A fresh copy of the same network and the same recipe; only the training batches change."""),
    ("code", """let mut aug_model = zoo::asl_cnn(&device)?;
aug_model.compile(Optimizer::rmsprop(), Loss::categorical_crossentropy(), true);
let aug_history = aug_model.fit(&x_train, &y_train,
    Fit::new().epochs(20).validation_data(&x_valid, &y_valid).augment(datagen.clone()))?;"""),
    ("code", """history_comparison(&[("plain", &history), ("augmented", &aug_history)])?"""),
    ("code", """let aug_train = aug_model.evaluate(&x_train, &y_train, 32)?;
let aug_valid = aug_model.evaluate(&x_valid, &y_valid, 32)?;
println!("validation accuracy without augmentation: {:.4}", plain_valid.accuracy()?);
println!("validation accuracy with augmentation:    {:.4}", aug_valid.accuracy()?);
println!("training accuracy (inference mode): {:.4} without, {:.4} with", plain_train.accuracy()?, aug_train.accuracy()?);"""),
    ("md", """## Conclusions

In the saved run, on the generated stand-in:

- The convolutional network learned the 24 drawn letters: 1.0000 validation accuracy after 20 epochs of
  RMSprop, with 263,749 trained parameters, against 676,888 for the course's dense model.
- The same network trained on augmented batches ended lower, at 0.9604, and its validation accuracy jumped
  between epochs (0.3646 at epoch 7, 0.5271 at epoch 17, 0.9958 at epochs 10 and 14). Its training accuracy
  stayed near 0.88 because every batch was a harder, transformed one; scored in inference mode on the
  unchanged training images it is 0.9744.
- The swings come from batch normalisation: inference mode uses running averages gathered on transformed
  batches, and in this architecture one normalisation follows a dropout layer, so the spread of values it
  sees in training (a fifth of them zeroed, the rest scaled up) is not the spread it sees at inference. Keras behaves the same way: on a smaller stand-in (60 images per letter) the course's
  augmented recipe left both Keras 3.15 and this library near 0.5 validation accuracy, which is why the
  stand-in has 150 per letter.
- Augmentation is a cure for overfitting, and the plain network did not overfit these stand-ins, so here it
  could only cost. The course adds it because on the real photos — 27,455 images of a few people's hands —
  the network can memorise its training set; transformed copies make every epoch show it hands it has not
  seen."""),
    ("md", """## Freeing memory

The course ends by restarting the Python kernel, which releases the GPU's memory for the next notebook.
Here a tensor's memory, on the CPU or a GPU, is released as soon as the last value holding it is gone;
`:clear` drops every variable of this session and keeps the compiled crates, so the next cell starts
clean without recompiling anything."""),
    ("code", """:clear"""),
]

# Accuracy bars the notebook check (tests/check_notebooks.py) enforces on the stand-in run.
BARS = {
    "let plain_train = model.evaluate": [
        {"what": "CNN validation accuracy (inference mode)", "pattern": r"validation set: loss: [0-9.]+ - accuracy: ([0-9.]+)", "min": 0.9},
    ],
    "let aug_train = aug_model.evaluate": [
        {"what": "CNN with augmentation: validation accuracy (inference mode)", "pattern": r"with augmentation:\s+([0-9.]+)", "min": 0.9},
    ],
}


if __name__ == "__main__":
    build(NB, CELLS, BARS)
