// Hostile pickles: each asks for code execution the way real malicious checkpoints do. The
// restricted unpickler must refuse with an UnsafePickleError that names the global it refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnsafePickleError } from '../src/errors.js';
import { ScriptObject, unpickle } from '../src/weights/pickle.js';
import { pickle, PyCall, PyGlobal, PyObject } from '../src/weights/pickle-writer.js';

function bytes(...parts: (number | string)[]): Uint8Array {
  return Uint8Array.from(
    parts.flatMap((part) => (typeof part === 'number' ? [part] : [...Buffer.from(part, 'latin1')])),
  );
}
const str = (s: string): (number | string)[] => [0x8c, s.length, s]; // SHORT_BINUNICODE

function refuses(pickled: Uint8Array, global: string): void {
  assert.throws(
    () => unpickle(pickled, { source: 'evil.pt' }),
    (e: Error) => {
      assert.ok(e instanceof UnsafePickleError, `expected UnsafePickleError, got ${e.name}: ${e.message}`);
      assert.match(e.message, new RegExp(`"${global.replace(/\./g, '\\.')}"`));
      assert.match(e.message, /^evil\.pt/);
      return true;
    },
  );
}

test('os.system via GLOBAL + REDUCE (protocol 0, as in classic exploit pickles)', () => {
  refuses(bytes("cos\nsystem\n(S'echo pwned'\ntR."), 'os.system');
});

test('posix.system from a __reduce__ payload (what pickle.dumps of such a class produces)', () => {
  // class Evil: def __reduce__(self): return (os.system, ('id',))  →  protocol 2 on Linux:
  refuses(bytes(0x80, 2, 'cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.'), 'posix.system');
  // The same payload at protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL), byte for byte.
  refuses(
    bytes(
      0x80,
      4,
      0x95,
      0x1d,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x8c,
      5,
      'posix',
      0x94,
      0x8c,
      6,
      'system',
      0x94,
      0x93,
      0x94,
      0x8c,
      2,
      'id',
      0x94,
      0x85,
      0x94,
      'R',
      0x94,
      '.',
    ),
    'posix.system',
  );
  refuses(pickle(new PyCall(new PyGlobal('nt', 'system'), ['dir'])), 'nt.system');
});

test('builtins.eval, exec, getattr and __import__', () => {
  refuses(pickle(new PyCall(new PyGlobal('builtins', 'eval'), ["__import__('os').system('id')"])), 'builtins.eval');
  refuses(pickle(new PyCall(new PyGlobal('builtins', 'exec'), ['import os'])), 'builtins.exec');
  refuses(
    pickle(new PyCall(new PyGlobal('builtins', 'getattr'), [new PyGlobal('collections', 'OrderedDict'), '__class__'])),
    'builtins.getattr',
  );
  refuses(bytes("(S'os'\nibuiltins\n__import__\n."), 'builtins.__import__'); // INST opcode
  refuses(bytes('c__builtin__\neval\n.'), '__builtin__.eval'); // Python 2 spelling
});

test('subprocess.Popen via STACK_GLOBAL (protocol 4)', () => {
  refuses(
    bytes(0x80, 4, ...str('subprocess'), 0x94, ...str('Popen'), 0x94, 0x93, ...str('id'), 0x85, 'R.'),
    'subprocess.Popen',
  );
});

test('unknown classes, including look-alikes inside the torch and collections namespaces', () => {
  refuses(pickle(new PyObject(new PyGlobal('__main__', 'Evil'), null)), '__main__.Evil');
  refuses(pickle(new PyCall(new PyGlobal('torch', 'load'), ['other.pt'])), 'torch.load');
  refuses(pickle(new PyCall(new PyGlobal('torch.serialization', 'load'), ['x'])), 'torch.serialization.load');
  refuses(pickle(new PyCall(new PyGlobal('collections', 'namedtuple'), ['T', 'a'])), 'collections.namedtuple');
  refuses(
    pickle(new PyCall(new PyGlobal('torch._utils', '_rebuild_device_tensor_from_numpy'), [])),
    'torch._utils._rebuild_device_tensor_from_numpy',
  );
  // A name that only starts like an allowed one, or smuggles a newline, is still refused.
  refuses(pickle(new PyGlobal('collections', 'OrderedDictX')), 'collections.OrderedDictX');
  refuses(
    bytes(0x80, 4, ...str('torch._utils'), ...str('_rebuild_tensor_v2\nx'), 0x93, '.'),
    'torch._utils._rebuild_tensor_v2\nx',
  );
  refuses(bytes(0x80, 4, ...str('__torch__x'), ...str('M'), 0x93, '.'), '__torch__x.M');
});

test('allowlisted values that are not callables cannot be called', () => {
  refuses(pickle(new PyCall(new PyGlobal('torch', 'FloatStorage'), [10])), 'torch.FloatStorage');
});

test('extension-registry opcodes (EXT1/2/4) are refused', () => {
  assert.throws(() => unpickle(bytes(0x80, 2, 0x82, 1, '.')), UnsafePickleError);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x83, 1, 0, '.')), UnsafePickleError);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x84, 1, 0, 0, 0, '.')), UnsafePickleError);
});

test('a TorchScript class is never called: REDUCE on it only records an inert object', () => {
  const value = unpickle(pickle(new PyCall(new PyGlobal('__torch__.evil', 'Payload'), ['rm -rf /']))).value;
  assert.ok(value instanceof ScriptObject);
  assert.equal(value.className, '__torch__.evil.Payload');
  assert.equal(value.state, undefined);
});
