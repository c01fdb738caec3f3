"""DL4J's ComputationGraph: `graph_builder()` configurations of named layers and vertices with
several inputs and outputs, compiled onto one graphc.nn functional Model."""
from graphc.dl4j.graph.builder import ComputationGraphConfiguration, GraphBuilder
from graphc.dl4j.graph.vertices import (DuplicateToTimeSeriesVertex, ElementWiseVertex, GraphVertex, L2NormalizeVertex,
                                        L2Vertex, LastTimeStepVertex, LayerVertex, MergeVertex, PreprocessorVertex,
                                        ScaleVertex, ShiftVertex, StackVertex, SubsetVertex, UnstackVertex)
