"""Print the XML Schema documents of the admin services' requests."""

from testbed.kmcontract import schema_documents

for file_name, document in schema_documents().items():
    print(f"<!-- {file_name} -->\n{document.decode()}")
