export const RESAMPLE8_WASM_BASE64 = '';
