"""The maths: convolution and pooling ops, output shapes, the LeNetConfig and the model it builds, receptive
fields, and numbers in words. Plain torch; imports no other part of lenet."""
