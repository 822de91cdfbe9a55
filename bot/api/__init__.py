"""The HTTP API under /api/v1: a front end like bot/slack, over the same handler and store functions.

How to add a resource (customers.py is the worked example):

1. A module ``bot/api/<resource>.py`` with its pydantic request and response models (the OpenAPI
   document is generated from them; never write it by hand) and an ``APIRouter`` named ``router``.
2. Each endpoint takes ``caller: Caller = Depends(require_scope("read"))`` (or ``"write"``):
   that answers 401/403/429 before the endpoint runs. ``api_context(request, caller)`` gives the
   handlers' ``Context`` acting as ``api:<token name>``, so every write is audited under that name.
3. Call the handler or crm_store functions the chat commands use; never SQL here, never a second
   copy of a rule. Raise ``ApiError`` (or let a handler's ``UserError``/``NotFound``/``Forbidden``
   through: they become 422/404/403 in the one error shape ``{"error": {...}}``).
4. Ids in paths go through ``ids.existing`` (anything beyond 64 bits is a 404, not a 500);
   lists answer ``{"items", "next_cursor"}`` with ``paging.encode``/``decode`` (by (updated_at,
   id)) or ``paging.encode_id``/``decode_id`` (by id), asking the store for limit + 1 rows; times
   from the caller go through ``paging.utc_time``. ``responses=documented(404, ...)`` lists the
   error answers in the OpenAPI document.
5. Add the router to ``ROUTERS`` in bot/api/app.py and a test module in tests/bot/api/ (the
   ``api`` fixture is a client with the admin token ``AUTH``); test_openapi_fuzz.py then fuzzes it.
Writes get Idempotency-Key, the body limit, the rate limit and the error model without more work.
"""
