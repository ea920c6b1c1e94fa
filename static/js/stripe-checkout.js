/*
 * Card payment (templates/payments/_card_form.html).
 *
 * Stripe.js turns the card into a PaymentMethod (createPaymentMethod: the card never
 * reaches our server, only its pm_ id does); our server creates and confirms the
 * PaymentIntent with it; when the bank asks for 3-D Secure, Stripe.js runs it with
 * confirmCardPayment and our server reads the intent back. The button stays disabled while
 * a payment is under way (a double-click sends one request), and a retry after a decline
 * uses the new attempt key the server sent.
 */
(function () {
  "use strict";

  var form = document.getElementById("card-payment");
  if (!form) {
    return;
  }
  var unavailable = form.parentNode.querySelector(".payment-unavailable");
  if (typeof window.Stripe !== "function") {
    if (unavailable) {
      unavailable.hidden = false;
    }
    return;
  }

  // Stripe.js speaks the page's language (its own validation messages, the 3-D Secure frame).
  var stripe = window.Stripe(form.dataset.key, { locale: document.documentElement.lang || "auto" });
  var card = stripe.elements().create("card");
  var button = form.querySelector("button[type=submit]");
  var errors = document.getElementById("card-errors");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var busy = false;

  form.hidden = false;
  card.mount("#card-element");

  function showError(message) {
    errors.textContent = message || "";
  }

  function ready(attempt) {
    if (attempt) {
      form.dataset.attempt = attempt;
    }
    busy = false;
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrf ? csrf.content : ""
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return { status: "failed", message: form.dataset.genericError };
      });
    });
  }

  function settle(answer) {
    if (answer.redirect) {
      window.location.assign(answer.redirect);
      return;
    }
    showError(answer.message || form.dataset.genericError);
    ready(answer.attempt);
  }

  async function payWith(paymentMethod) {
    var answer = await post(form.dataset.payUrl, {
      payment_method: paymentMethod.id,
      attempt: form.dataset.attempt
    });
    if (answer.status === "requires_action") {
      var intentId = answer.intent_id;
      // Whatever the bank answered, our server reads the intent back and decides.
      await stripe.confirmCardPayment(answer.client_secret);
      answer = await post(form.dataset.finishUrl, { intent_id: intentId });
    }
    settle(answer);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    showError("");
    stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
      if (!result || result.error || !result.paymentMethod) {
        showError((result && result.error && result.error.message) || form.dataset.genericError);
        ready();
        return undefined;
      }
      return payWith(result.paymentMethod);
    }).catch(function () {
      showError(form.dataset.genericError);
      ready();
    });
  });
})();
