"""Ready-made networks built from :mod:`chainrule.nn`'s layers, each a few dozen lines.

resnet            ResNet, BasicBlock, resnet(depth, widths, skip): He et al.'s CIFAR ResNet
                  (6n + 2 layers, 3 stages) and, with skip=False, its plain twin (Li et al.)
gpt               GPT, gpt(vocab, context, layers, heads, width): a decoder-only transformer
                  language model with tied embeddings and generate()
text_classifier   TextClassifier, text_classifier(vocab, num_classes, ...): embedding,
                  transformer encoder or GRU, pooling, linear head
textcnn           TextCNN, textcnn(vocab, num_classes, ...): Kim's (2014) convolutions of several
                  widths with max-over-time pooling; MeanEmbedding (a bag of embeddings)
text_columns      TextColumns, text_columns(kind, vocab, ...): one text body shared by a table's
                  text columns, and a head over their pooled tokens and the other features
"""
from .gpt import GPT, gpt
from .resnet import BasicBlock, ResNet, resnet
from .text_classifier import TextClassifier, text_classifier
from .text_columns import TextColumns, text_columns
from .textcnn import MeanEmbedding, TextCNN, textcnn

__all__ = ["resnet", "ResNet", "BasicBlock", "gpt", "GPT", "text_classifier", "TextClassifier",
           "textcnn", "TextCNN", "MeanEmbedding", "text_columns", "TextColumns"]
