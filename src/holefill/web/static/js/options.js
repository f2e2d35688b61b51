// A method's options as form inputs, built from the method table's declarations (the server
// sends each option's kind, default, range and help). Values equal to the default are not
// sent; out-of-range values are refused here with the same words the server would use.
// A switch that may also be left unset (a nullable bool, such as a guided model's colour_match,
// whose default is "the model's own setting") is a choice of default, on and off, so leaving it
// alone sends nothing rather than "off".

function plain(x) { return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))); }

export class OptionsForm {
  constructor(fieldset, body) {
    this.fieldset = fieldset; // the <fieldset> (hidden when a method has no options)
    this.body = body;         // where the inputs go
    this.options = [];
    this.inputs = new Map();
  }

  show(method) {
    this.options = (method && method.options) || [];
    this.inputs.clear();
    this.body.textContent = '';
    for (const o of this.options) {
      const label = document.createElement('label');
      label.className = `option option-${o.kind}`;
      label.title = `${o.help} (${o.range})`;
      const name = document.createElement('span');
      name.className = 'option-name';
      name.textContent = o.name.replace(/_/g, ' ');
      let input;
      if (o.kind === 'bool' && o.nullable) {
        input = document.createElement('select');
        for (const [value, text] of [['', 'default'], ['true', 'on'], ['false', 'off']]) {
          const opt = document.createElement('option');
          opt.value = value;
          opt.textContent = text;
          input.append(opt);
        }
        input.value = o.default === null ? '' : String(o.default);
        label.className = 'option option-choice';
        label.append(name, input);
      } else if (o.kind === 'bool') {
        input = document.createElement('input');
        input.type = 'checkbox';
        input.checked = !!o.default;
        label.append(input, name);
      } else if (o.kind === 'choice') {
        input = document.createElement('select');
        for (const c of o.choices) {
          const opt = document.createElement('option');
          opt.value = c;
          opt.textContent = c;
          input.append(opt);
        }
        input.value = o.default;
        label.append(name, input);
      } else {
        input = document.createElement('input');
        input.type = 'number';
        input.inputMode = o.kind === 'int' ? 'numeric' : 'decimal';
        input.min = plain(o.minimum);
        input.max = plain(o.maximum);
        input.step = o.kind === 'int' ? (o.odd ? '2' : '1') : 'any';
        input.value = o.default === null ? '' : plain(o.default);
        if (o.nullable) input.placeholder = 'none';
        label.append(name, input);
      }
      input.id = `option-${o.name}`;
      input.dataset.option = o.name;
      const hint = document.createElement('small');
      hint.className = 'option-range';
      hint.textContent = o.range;
      label.append(hint);
      this.body.append(label);
      this.inputs.set(o.name, input);
    }
    this.fieldset.hidden = !this.options.length;
  }

  reset() {
    for (const o of this.options) {
      const input = this.inputs.get(o.name);
      if (o.kind === 'bool' && o.nullable) input.value = o.default === null ? '' : String(o.default);
      else if (o.kind === 'bool') input.checked = !!o.default;
      else input.value = o.default === null ? '' : (o.kind === 'choice' ? o.default : plain(o.default));
    }
  }

  // {options: {...}} with the values that differ from the defaults, or {error: message}.
  values() {
    const out = {};
    for (const o of this.options) {
      const input = this.inputs.get(o.name);
      let value;
      if (o.kind === 'bool' && o.nullable) value = input.value === '' ? null : input.value === 'true';
      else if (o.kind === 'bool') value = input.checked;
      else if (o.kind === 'choice') value = input.value;
      else if (input.value.trim() === '' && o.nullable) value = null;
      else {
        value = Number(input.value);
        const bad = input.value.trim() === '' || !Number.isFinite(value) || value < o.minimum || value > o.maximum
          || (o.kind === 'int' && (!Number.isInteger(value) || (o.odd && value % 2 === 0)));
        if (bad) return { error: `option ${o.name} must be ${o.range}, got ${input.value.trim() || 'nothing'}` };
      }
      if (value !== o.default) out[o.name] = value;
    }
    return { options: out };
  }
}
