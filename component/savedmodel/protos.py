"""The slice of TensorFlow's SavedModel protos that validation reads, built in code at import time.

Why not TensorFlow's generated ``*_pb2`` modules: the push image has no TensorFlow, and a protoc
step would add a build dependency for a handful of messages. Field numbers and types match
tensorflow/core/protobuf/{saved_model,meta_graph,struct}.proto and
tensorflow/core/framework/{tensor_shape,types}.proto, so real saved_model.pb (binary) and
saved_model.pbtxt (text) files parse. Every field not declared here (the GraphDef, the object
graph, function libraries, ...) stays an undecoded unknown field: that is what keeps reading a
multi-megabyte model down to a memcpy.

The messages live in a private package and a private DescriptorPool, so they can never clash with
TensorFlow's real ``tensorflow.*`` descriptors when both are loaded in one process (tests, or the
optional deep check).
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_PACKAGE = "model_pusher.savedmodel"

_Field = descriptor_pb2.FieldDescriptorProto

# types.proto DataType, indexed by enum number (0..33 are contiguous). The *_REF variants are the
# same list shifted by 100; they are declared too because text format refuses unknown enum names.
_DATA_TYPE_ENUM_NAMES = (
    "DT_INVALID", "DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_INT16", "DT_INT8",
    "DT_STRING", "DT_COMPLEX64", "DT_INT64", "DT_BOOL", "DT_QINT8", "DT_QUINT8", "DT_QINT32",
    "DT_BFLOAT16", "DT_QINT16", "DT_QUINT16", "DT_UINT16", "DT_COMPLEX128", "DT_HALF",
    "DT_RESOURCE", "DT_VARIANT", "DT_UINT32", "DT_UINT64", "DT_FLOAT8_E5M2", "DT_FLOAT8_E4M3FN",
    "DT_FLOAT8_E4M3FNUZ", "DT_FLOAT8_E4M3B11FNUZ", "DT_FLOAT8_E5M2FNUZ", "DT_INT4", "DT_UINT4",
    "DT_INT2", "DT_UINT2", "DT_FLOAT4_E2M1FN",
)
_REF_OFFSET = 100

# Python-side TensorFlow spells these three differently from the lower-cased enum name.
_PYTHON_DTYPE_NAMES = {"DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16"}


def dtype_name(number: int) -> str:
    """The name TensorFlow's Python API uses for a DataType number (1 -> 'float32'), for messages."""
    is_ref = number > _REF_OFFSET
    base = number - _REF_OFFSET if is_ref else number
    if not 0 <= base < len(_DATA_TYPE_ENUM_NAMES):
        return f"DataType({number})"
    enum_name = _DATA_TYPE_ENUM_NAMES[base]
    name = _PYTHON_DTYPE_NAMES.get(enum_name, enum_name.removeprefix("DT_").lower())
    return name + "_ref" if is_ref else name


def _field(
    name: str,
    number: int,
    field_type: int,
    *,
    repeated: bool = False,
    type_name: str | None = None,
    oneof_index: int | None = None,
) -> descriptor_pb2.FieldDescriptorProto:
    field = _Field(
        name=name,
        number=number,
        type=field_type,
        label=_Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL,
    )
    if type_name is not None:
        field.type_name = f".{_PACKAGE}.{type_name}"
    if oneof_index is not None:
        field.oneof_index = oneof_index
    return field


def _message(
    name: str,
    *fields: descriptor_pb2.FieldDescriptorProto,
    nested: tuple[descriptor_pb2.DescriptorProto, ...] = (),
    oneofs: tuple[str, ...] = (),
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name, field=fields, nested_type=nested)
    for oneof in oneofs:
        message.oneof_decl.add(name=oneof)
    return message


def _map_entry(name: str, value_type_name: str) -> descriptor_pb2.DescriptorProto:
    """The nested `<Name>Entry` message protoc generates for a map<string, Value> field."""
    entry = _message(
        name,
        _field("key", 1, _Field.TYPE_STRING),
        _field("value", 2, _Field.TYPE_MESSAGE, type_name=value_type_name),
    )
    entry.options.map_entry = True
    return entry


def _file() -> descriptor_pb2.FileDescriptorProto:
    data_type = descriptor_pb2.EnumDescriptorProto(name="DataType")
    for number, enum_name in enumerate(_DATA_TYPE_ENUM_NAMES):
        data_type.value.add(name=enum_name, number=number)
    for number, enum_name in enumerate(_DATA_TYPE_ENUM_NAMES[1:], start=1):
        data_type.value.add(name=enum_name + "_REF", number=number + _REF_OFFSET)

    tensor_shape = _message(
        "TensorShapeProto",
        _field("dim", 2, _Field.TYPE_MESSAGE, repeated=True, type_name="TensorShapeProto.Dim"),
        _field("unknown_rank", 3, _Field.TYPE_BOOL),
        nested=(
            _message(
                "Dim",
                _field("size", 1, _Field.TYPE_INT64),
                _field("name", 2, _Field.TYPE_STRING),
            ),
        ),
    )
    # Only the class name of a composite tensor's TypeSpec: its shape and dtype are encoded in a
    # generic StructuredValue that is not worth decoding for a readable summary.
    type_spec = _message("TypeSpecProto", _field("type_spec_class_name", 3, _Field.TYPE_STRING))
    tensor_info = _message(
        "TensorInfo",
        _field("name", 1, _Field.TYPE_STRING, oneof_index=0),
        _field("dtype", 2, _Field.TYPE_ENUM, type_name="DataType"),
        _field("tensor_shape", 3, _Field.TYPE_MESSAGE, type_name="TensorShapeProto"),
        _field("coo_sparse", 4, _Field.TYPE_MESSAGE, type_name="TensorInfo.CooSparse", oneof_index=0),
        _field(
            "composite_tensor", 5, _Field.TYPE_MESSAGE, type_name="TensorInfo.CompositeTensor", oneof_index=0
        ),
        nested=(
            _message(
                "CooSparse",
                _field("values_tensor_name", 1, _Field.TYPE_STRING),
                _field("indices_tensor_name", 2, _Field.TYPE_STRING),
                _field("dense_shape_tensor_name", 3, _Field.TYPE_STRING),
            ),
            _message(
                "CompositeTensor",
                _field("type_spec", 1, _Field.TYPE_MESSAGE, type_name="TypeSpecProto"),
                _field("components", 2, _Field.TYPE_MESSAGE, repeated=True, type_name="TensorInfo"),
            ),
        ),
        oneofs=("encoding",),
    )
    signature_def = _message(
        "SignatureDef",
        _field("inputs", 1, _Field.TYPE_MESSAGE, repeated=True, type_name="SignatureDef.InputsEntry"),
        _field("outputs", 2, _Field.TYPE_MESSAGE, repeated=True, type_name="SignatureDef.OutputsEntry"),
        _field("method_name", 3, _Field.TYPE_STRING),
        nested=(_map_entry("InputsEntry", "TensorInfo"), _map_entry("OutputsEntry", "TensorInfo")),
    )
    meta_graph_def = _message(
        "MetaGraphDef",
        _field("meta_info_def", 1, _Field.TYPE_MESSAGE, type_name="MetaGraphDef.MetaInfoDef"),
        _field(
            "signature_def", 5, _Field.TYPE_MESSAGE, repeated=True, type_name="MetaGraphDef.SignatureDefEntry"
        ),
        nested=(
            _message(
                "MetaInfoDef",
                _field("tags", 4, _Field.TYPE_STRING, repeated=True),
                _field("tensorflow_version", 5, _Field.TYPE_STRING),
            ),
            _map_entry("SignatureDefEntry", "SignatureDef"),
        ),
    )
    saved_model = _message(
        "SavedModel",
        _field("saved_model_schema_version", 1, _Field.TYPE_INT64),
        _field("meta_graphs", 2, _Field.TYPE_MESSAGE, repeated=True, type_name="MetaGraphDef"),
    )
    return descriptor_pb2.FileDescriptorProto(
        name="model_pusher/savedmodel.proto",
        package=_PACKAGE,
        syntax="proto3",
        enum_type=[data_type],
        message_type=[tensor_shape, type_spec, tensor_info, signature_def, meta_graph_def, saved_model],
    )


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())

SavedModel = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.SavedModel"))
"""tensorflow.SavedModel, reduced to schema version, MetaGraph tags, the TensorFlow version that wrote it and SignatureDefs."""
