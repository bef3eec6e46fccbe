"""The chapter's exercises that LeNet Lab can answer: a question, links that open a page with the right settings
(the pages keep their settings in the URL), and what the app shows as the answer.

Numbers in the answers come from the app's own functions (tests recompute them) or, for trainings, from real
runs with lenet.training.train on all 60,000 Fashion-MNIST training images (seed 0; another seed or device moves them
by about a point).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode


def page_url(page: str) -> str:
    """The URL path Streamlit serves a page file at: 'pages/2_Padding_and_stride.py' -> '/Padding_and_stride'."""
    match = re.fullmatch(r"pages/(?:\d+_)?(\w+)\.py", page)
    if match is None:
        raise ValueError(f"{page!r} is not a page file such as 'pages/1_Cross_correlation.py'.")
    return "/" + match.group(1)


@dataclass(frozen=True)
class Link:
    """A page with settings: its file, the query parameters it reads, and a section to scroll to."""

    label: str
    page: str
    params: dict[str, str | int | float] = field(default_factory=dict)
    anchor: str = ""

    @property
    def url(self) -> str:
        query = f"?{urlencode(self.params, quote_via=quote)}" if self.params else ""
        return page_url(self.page) + query + (f"#{self.anchor}" if self.anchor else "")


@dataclass(frozen=True)
class Exercise:
    section: str
    title: str
    question: str
    links: tuple[Link, ...]
    answer: str
    dataset: str | None = None  # only offered when this dataset is installed


DIAGONAL = "1 0 0 0 0 0; 1 1 0 0 0 0; 1 1 1 0 0 0; 1 1 1 1 0 0; 1 1 1 1 1 0; 1 1 1 1 1 1"
DIAGONAL_T = "1 1 1 1 1 1; 0 1 1 1 1 1; 0 0 1 1 1 1; 0 0 0 1 1 1; 0 0 0 0 1 1; 0 0 0 0 0 1"
RAMP = "0 0 0 1 2 3 4 5; 0 0 0 1 2 3 4 5"
FOUR_BY_FOUR = "0 1 2 3; 4 5 6 7; 8 9 10 11; 12 13 14 15"
CROSS, PADDING, CHANNELS, POOLING = ("pages/1_Cross_correlation.py", "pages/2_Padding_and_stride.py",
                                     "pages/3_Channels.py", "pages/4_Pooling.py")
MLP, TRAIN, INSPECT, PARAMETERS, RECEPTIVE = ("pages/5_MLP_vs_CNN.py", "pages/6_Train.py", "pages/7_Inspect.py",
                                              "pages/8_Parameters.py", "pages/9_Receptive_fields.py")

EXERCISES = (
    Exercise(
        "Convolutions for images", "Diagonal edges",
        "Build an image with a diagonal edge and apply the edge kernel K = [1, -1]. What comes out? What if you "
        "transpose the image, or the kernel?",
        (Link("Diagonal edge, K = [1, -1]", CROSS, {"X": DIAGONAL, "K": "1 -1"}),
         Link("the image transposed", CROSS, {"X": DIAGONAL_T, "K": "1 -1"}),
         Link("the kernel transposed", CROSS, {"X": DIAGONAL, "K": "1; -1"})),
        "Each row of the image steps from white (1) to black (0) once, one column further every row, so the 6 x 5 "
        "output is 1 on the diagonal and 0 elsewhere: a diagonal edge is a vertical edge in every row. On the "
        "transposed image the step goes from black to white, so the diagonal is -1 (one row lower). The transposed "
        "kernel [1; -1] compares each pixel with the one below it: it finds the same edge, now as a horizontal "
        "one, with -1 one column to the right of the diagonal.",
    ),
    Exercise(
        "Convolutions for images", "Hand-designed kernels",
        "Design a kernel that computes a second derivative, and one that blurs. What size does a kernel for the "
        "d-th derivative need?",
        (Link("Second derivative [1, -2, 1] on a ramp", CROSS, {"X": RAMP, "K": "1 -2 1"}),
         Link("A 5 x 5 blur on a real image", PADDING,
              {"kernel": "blur", "k_h": 5, "k_w": 5, "p_h": 2, "p_w": 2, "s_h": 1, "s_w": 1}),
         Link("Vertical edges on a real image", PADDING,
              {"kernel": "vertical edges", "k_h": 3, "k_w": 3, "p_h": 1, "p_w": 1, "s_h": 1, "s_w": 1})),
        "[1, -2, 1] is the difference of two differences. On the row 0 0 0 1 2 3 4 5 it gives 0 on the flat part "
        "and 0 on the ramp (a constant slope), and 1 only where the slope changes: 0 1 0 0 0 0. A blur is a kernel "
        "of equal weights 1/k² (an average, a discrete integral); the output looks smoother, and with padding 2 a "
        "5 x 5 blur keeps the 28 x 28 size. The d-th derivative needs d + 1 taps: the binomial coefficients with "
        "alternating signs ([1, -1], [1, -2, 1], [1, -3, 3, -1], ...).",
    ),
    Exercise(
        "Convolutions for images", "A learning rate that is too large",
        "Learning the edge kernel back takes 10 steps at learning rate 0.03. What happens at 0.05?",
        (Link("Learn the kernel with lr = 0.05", CROSS, {"lr": 0.05, "iterations": 10}),),
        "The loss explodes (to about 550,000 after 10 steps) and the kernel ends near [192.5, 190.5] instead of "
        "[1, -1]: every step overshoots the minimum by more than it corrects. Above about 1/30 ≈ 0.033 this "
        "happens on this image; at 0.03 the loss falls to about 0.04 and the kernel ends near [1.006, -0.966].",
    ),
    Exercise(
        "Padding and stride", "Output size by hand",
        "An 8 x 8 input, kernel 3 x 5, padding (0, 1), stride (3, 4): work out the output shape with "
        "floor((n - k + 2p) / s) + 1 before you open the page. What does a stride of 2 save?",
        (Link("Open the example", PADDING,
              {"n_h": 8, "n_w": 8, "k_h": 3, "k_w": 5, "p_h": 0, "p_w": 1, "s_h": 3, "s_w": 4, "d_h": 1, "d_w": 1}),),
        "2 x 2: floor((8 - 3 + 0) / 3) + 1 = 2 rows and floor((8 - 5 + 2) / 4) + 1 = 2 columns. A stride of s in "
        "both directions computes about 1/s² of the outputs, so it divides the work (and the next layer's input) "
        "by about s²; for an audio signal a stride of 2 halves the sampling rate.",
    ),
    Exercise(
        "Multiple channels", "1 x 1 convolution",
        "Why is a 1 x 1 convolution a fully connected layer applied at every pixel? How many parameters does one "
        "with 3 input and 2 output channels have?",
        (Link("3 input channels, 2 output channels", CHANNELS, {"c_i": 3, "c_o": 2, "n": 3, "k": 2}),),
        "It sees one pixel, so it can only mix that pixel's channels, with the same c_o x c_i matrix everywhere: "
        "reshape X to c_i x (h·w) and multiply. The page checks that both give the same numbers. 3 → 2 channels "
        "take 2 x 3 weights plus 2 biases: 8 parameters.",
    ),
    Exercise(
        "Pooling", "nn.MaxPool2d's default stride",
        "What does nn.MaxPool2d(3) give on the 4 x 4 input 0..15? Do we need a separate min-pooling layer?",
        (Link("MaxPool2d(3) on 0..15", POOLING,
              {"X": FOUR_BY_FOUR, "mode": "max", "k_h": 3, "k_w": 3, "p_h": 0, "p_w": 0, "s_h": 3, "s_w": 3}),),
        "A single value, 10: PyTorch's stride defaults to the window size, so the 3 x 3 window fits once. d2l's "
        "pool2d slides one step at a time and would give 2 x 2. Min pooling is max pooling of -X, negated: "
        "min(X) = -max(-X), so no new layer is needed.",
    ),
    Exercise(
        "Why convolutions", "A dense layer for a photo",
        "How many weights does one fully connected layer of 100 hidden units need for a 12-megapixel RGB photo?",
        (Link("12-megapixel photo, 100 hidden units", MLP, {"height": 3000, "width": 4000, "channels": 3,
                                                              "hidden": 100}),),
        "36,000,000 inputs x 100 units + 100 biases = 3,600,000,100 parameters, about 14.4 GB in float32, before "
        "any learning. A 5 x 5 conv layer from 3 to 6 channels has 456, whatever the image size.",
    ),
    Exercise(
        "Receptive fields", "What a unit of LeNet sees",
        "In d2l's LeNet, how many input pixels can one unit of the second conv layer see? One of the second "
        "pooling layer?",
        (Link("A unit of conv2", RECEPTIVE, {"layer": "conv2"}),
         Link("A unit of pool2", RECEPTIVE, {"layer": "pool2"})),
        "14 x 14 for conv2 and 16 x 16 for pool2 (5, 6, 14, 16 pixels after conv1, pool1, conv2, pool2): each "
        "layer adds (k - 1) times the distance between its inputs, which pooling doubles.",
    ),
    Exercise(
        "LeNet", "Max pooling and ReLU instead of average pooling and sigmoid",
        "Replace LeNet's average pooling with max pooling and its sigmoids with ReLU. Does it learn faster, and "
        "does d2l's learning rate of 0.9 still work?",
        (Link("Start from the classic LeNet", TRAIN, {"preset": "classic"}),
         Link("The modern recipe (adds batch norm)", TRAIN, {"preset": "modern"})),
        "On the Train page, start from the classic preset, set activation to relu and pooling to max, and train. "
        "Measured on all 60,000 images for 10 epochs (seed 0): d2l's classic LeNet reaches 0.797 test accuracy. "
        "With ReLU and max pooling at learning rate 0.9 it never leaves chance (0.100, loss stuck at 2.30 = "
        "ln 10: the output no longer depends on the image, the too large first steps leave the ReLUs dead). At 0.3 it reaches 0.875 and at 0.1 0.860. Max pooling alone (sigmoid, lr 0.9) gives 0.818, "
        "ReLU alone (lr 0.1) 0.852. The modern preset (ReLU, max pooling, batch norm, one-cycle SGD) reaches 0.903 "
        "in 2 epochs.",
    ),
    Exercise(
        "LeNet", "Tune kernel size, channels and dense widths",
        "Starting from the modern preset, change the kernel sizes, the number of channels and the dense widths. "
        "Which change buys the most accuracy?",
        (Link("Start from the modern preset", TRAIN, {"preset": "modern"}),),
        "Measured with the modern recipe (2 epochs, all 60,000 images, seed 0): the preset gives 0.903; 16 and 32 "
        "channels 0.908, 32 and 64 channels 0.914; 3 x 3 kernels 0.906, 7 x 7 then 5 x 5 0.902; dense widths "
        "256, 128 0.905, a single dense layer of 84 0.898; 32 and 64 channels with dense 256, 128 0.915. With 10 "
        "epochs the preset reaches 0.922 and that widest network 0.932. More channels help most; the kernel size "
        "and the dense widths matter little.",
    ),
    Exercise(
        "LeNet", "The original MNIST digits",
        "Train the same LeNet on MNIST's handwritten digits instead of clothes. Is it an easier task?",
        (Link("Start from the classic LeNet", TRAIN, {"preset": "classic"}),),
        "Choose mnist as the dataset on the Train page and compare the test accuracy with the same preset's on "
        "Fashion-MNIST. Digits are the easier task: LeCun's LeNet-5 reached 99% test accuracy on MNIST in 1998 "
        "(0.95% error), while LeNets here stay between 80% and 93% on clothes.",
        dataset="mnist",
    ),
    Exercise(
        "LeNet", "A sweater and a coat",
        "Look at the first- and second-layer activations of a sweater (Fashion-MNIST's Pullover) and a coat. "
        "What do they share, and which classes does the model confuse them with?",
        (Link("Inspect a model", INSPECT),),
        "Train a model first (the modern preset: 2 epochs, a minute or two on a CPU). On Inspect, choose Image by "
        "class, class Pullover, then Coat, and compare the activation maps. In the first layer (act1, 28 x 28) both "
        "give the same outline with two long sleeves; the coat's front opening shows as a vertical line down the "
        "middle in several maps. In the second layer (act2, 10 x 10) only coarse parts are left, the body and the "
        "sleeves, with the opening at most a faint vertical stripe: little to tell the two apart. The confusion "
        "matrix shows the result: a modern-preset model (0.907 test accuracy) took 59 of the 1,000 test pullovers "
        "for coats and 67 for shirts, and 73 coats for pullovers; the classic LeNet after 10 epochs (0.797) took "
        "330 pullovers for coats.",
    ),
    Exercise(
        "Layers, blocks and parameters", "Blocks inside blocks",
        "Nest nn.Sequential blocks inside a Sequential. How are their parameters named, and where do LeNet's "
        "parameters sit?",
        (Link("The block tree and the parameter table", PARAMETERS, anchor="blocks-and-parameters"),),
        "Names are paths through the tree: in d2l's nested example, 0.block2.0.weight is the weight of layer 0 "
        "of block2 inside block 0. In LeNet the first dense layer, fc1, holds 48,120 of the 61,706 parameters "
        "(78%); both conv layers together hold 2,572 (4%).",
    ),
    Exercise(
        "Layers, blocks and parameters", "Initialisation",
        "Initialise the sigmoid LeNet with PyTorch's default, normal(0, 0.01), Xavier uniform and a constant. "
        "Which ones let it learn?",
        (Link("Initialisation on the Parameters page", PARAMETERS, {"scheme": "normal"}, anchor="initialisation"),),
        "Measured on all 60,000 images for 10 epochs at learning rate 0.9 (seed 0): Xavier leaves chance during "
        "epoch 2 and ends at 0.797 test accuracy; PyTorch's default stays at chance for 6 epochs and reaches 0.584 "
        "after 10; normal(0, 0.01) stays at chance (loss 2.303) for all 10; a constant diverges (loss about 28) "
        "and stays at chance, since every unit of a layer computes the same thing. The page's short runs (20,000 "
        "images, 3 epochs) show the same split: on our CPU Xavier reached 0.565 test accuracy after 3 epochs "
        "(0.18 after 2), and the other three stayed at chance.",
    ),
    Exercise(
        "Layers, blocks and parameters", "Shared parameters",
        "Use one layer twice in a network. How many parameters does it add, and what happens to its gradient?",
        (Link("The shared layer", PARAMETERS, anchor="shared-parameters"),),
        "It is one tensor: named_parameters lists it once and the count includes it once (121 parameters, against "
        "193 for two separate layers). Its .grad is the sum of the gradients of its two uses; the page shows both "
        "parts and their sum, equal to the last digit.",
    ),
    Exercise(
        "Layers, blocks and parameters", "Save and load",
        "Why save a model's state_dict rather than the model object, and what do you need to load it?",
        (Link("The state_dict and the round trip", PARAMETERS, anchor="save-and-load"),),
        "A state_dict is only named tensors (parameters and buffers such as batch norm's running statistics), so "
        "it survives changes to the code and can be loaded anywhere; you rebuild the architecture in code (here "
        "from the run's config) and load the tensors by name. The page saves, rebuilds and loads, and gets the "
        "same outputs to the last bit.",
    ),
)


def available_exercises(datasets: list[str]) -> list[Exercise]:
    """The exercises whose dataset (if they need one) is installed."""
    return [e for e in EXERCISES if e.dataset is None or e.dataset in datasets]
