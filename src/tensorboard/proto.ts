/**
 * The protobuf messages of a TensorBoard event file, as protobufjs
 * reflection types: only the fields written here, under their numbers in
 * tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto
 * and tensor_shape.proto (unknown fields are what keeps them compatible).
 */
import * as protobuf from 'protobufjs/light';

const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
            sessionLog: { type: 'SessionLog', id: 7 },
          },
        },
        SessionLog: {
          fields: { status: { type: 'SessionStatus', id: 1 }, checkpointPath: { type: 'string', id: 2 }, msg: { type: 'string', id: 3 } },
          nested: { SessionStatus: { values: { STATUS_UNSPECIFIED: 0, START: 1, STOP: 2, CHECKPOINT: 3 } } },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              fields: {
                tag: { type: 'string', id: 1 },
                simpleValue: { type: 'float', id: 2 },
                tensor: { type: 'TensorProto', id: 8 },
                metadata: { type: 'SummaryMetadata', id: 9 },
              },
            },
          },
        },
        SummaryMetadata: {
          fields: { pluginData: { type: 'PluginData', id: 1 }, displayName: { type: 'string', id: 2 }, summaryDescription: { type: 'string', id: 3 } },
          nested: { PluginData: { fields: { pluginName: { type: 'string', id: 1 }, content: { type: 'bytes', id: 2 } } } },
        },
        TensorProto: {
          fields: {
            dtype: { type: 'int32', id: 1 }, // DataType enum; DT_STRING = 7
            tensorShape: { type: 'TensorShapeProto', id: 2 },
            stringVal: { rule: 'repeated', type: 'bytes', id: 8 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 } },
          nested: { Dim: { fields: { size: { type: 'int64', id: 1 }, name: { type: 'string', id: 2 } } } },
        },
      },
    },
  },
});

export const Event = root.lookupType('tensorboard.Event');
export const DT_STRING = 7;
export const SESSION_START = 1;
