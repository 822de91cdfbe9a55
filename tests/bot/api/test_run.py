"""`crm-bot api-token create` then `crm-bot run --http` as real processes: a real HTTP request to
/api/v1 with the printed token; `api-token list` shows its use, and `revoke` ends it."""

from __future__ import annotations

from pathlib import Path

import httpx

from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import run_cli, start_run


async def test_a_token_made_by_the_cli_works_against_crm_bot_run(
    tmp_path: Path, classifier: SentimentClassifier, crm_data_dir: Path, empty_db_url: str
) -> None:
    db = {"CRM_DATABASE_URL": empty_db_url}
    code, out, err = await run_cli(
        tmp_path, crm_data_dir, "api-token", "create", "--name", "erp", "--scopes", "read,write", **db
    )
    assert code == 0, err
    token = out.strip()
    assert token.startswith("crm_") and "shown only this once" in err
    code, _, err = await run_cli(tmp_path, crm_data_dir, "api-token", "create", "--name", "erp", **db)
    assert code == 2 and "already a token named 'erp'" in err

    process, line, url = await start_run(tmp_path, crm_data_dir, "--http", "--no-sample", **db)
    try:
        assert "the HTTP API at /api/v1" in line
        async with httpx.AsyncClient(base_url=url + "/api/v1", trust_env=False) as http:
            assert (await http.get("/customers")).status_code == 401
            headers = {"Authorization": f"Bearer {token}"}
            made = await http.post(
                "/customers", json={"name": "Acme Corp", "external_ref": "ERP-1"}, headers=headers
            )
            assert made.status_code == 201, made.text
            listed = await http.get("/customers", headers=headers)
            assert [c["external_ref"] for c in listed.json()["items"]] == ["ERP-1"]
            assert (await http.get("/openapi.json")).json()["info"]["title"] == "crm-bot API"
        code, out, err = await run_cli(tmp_path, crm_data_dir, "api-token", "list", **db)
        assert code == 0, err
        assert (
            out.startswith("erp\tscopes=read,write\tcreated=")
            and "last_used=-" not in out
            and "revoked=-" in out
        )
        code, out, err = await run_cli(tmp_path, crm_data_dir, "api-token", "revoke", "erp", **db)
        assert code == 0 and "Revoked 'erp'" in out, err
        async with httpx.AsyncClient(base_url=url + "/api/v1", trust_env=False) as http:
            assert (await http.get("/customers", headers=headers)).status_code == 401
    finally:
        process.terminate()
        await process.wait()
