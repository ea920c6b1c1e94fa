// Appended to localstripe's fake Stripe.js by tests/localstripe_server.py (same script, so
// upstream's LOCALSTRIPE_BASE_API and its card Element class are in scope).
//
// stripe.createPaymentMethod({type: "card", card: cardElement}) as Stripe.js documents it:
// the card goes to POST /v1/payment_methods with the publishable key, and the promise
// resolves {paymentMethod} or {error}. Upstream's version resolves nothing.
(function () {
  const upstreamStripe = Stripe;

  async function createPaymentMethod(apiKey, data) {
    if (!data || data.type !== 'card' || !(data.card instanceof Element)) {
      return {error: {type: 'validation_error', code: 'parameter_invalid',
        message: 'localstripe: createPaymentMethod expects {type: "card", card: <card Element>}'}};
    }
    const value = data.card.value;
    if (!value || !value.card.number) {
      return {error: {type: 'validation_error', code: 'incomplete_number',
        message: 'Your card number is incomplete.'}};
    }
    const body = new URLSearchParams();
    body.append('type', 'card');
    Object.keys(value.card).forEach(field => {
      body.append('card[' + field + ']', value.card[field]);
    });
    if (value.postal_code) {
      body.append('billing_details[address][postal_code]', value.postal_code);
    }
    body.append('key', apiKey);
    try {
      const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
        method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'},
        body: body.toString(),
      });
      const result = await response.json().catch(() => ({}));
      if (response.status !== 200 || result.error) {
        return {error: result.error || {type: 'api_error', message: 'localstripe: no answer'}};
      }
      return {paymentMethod: result};
    } catch (err) {
      return {error: {type: 'api_connection_error', message: String(err)}};
    }
  }

  Stripe = (apiKey, options) => {
    const stripe = upstreamStripe(apiKey, options);
    stripe.createPaymentMethod = data => createPaymentMethod(apiKey, data);
    return stripe;
  };
})();
